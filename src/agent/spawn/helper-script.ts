// The spawn helper's program, run as `perl -e <script>`: perl-base is Essential on Debian, so it is on every
// node, and only modules shipped in perl-base are used (POSIX, IO::Select, Fcntl, Errno). Why it exists and
// the frame format: ./helper.ts.

export const helperScript = String.raw`
use strict;
use warnings;
use POSIX ();
use IO::Select;
use Fcntl qw(F_GETFL F_SETFL F_SETFD O_NONBLOCK);
use Errno qw(EINTR EAGAIN);

# flotilla spawn helper: runs commands for the agent so the agent never forks itself.
# Request frame: 4-byte big-endian length, then NUL-separated fields:
#   id, mode (run|sync|native), timeoutMs, cwd, log, file, argc, args..., envc (-1 = inherit), env..., input (the rest).
#   native: file names an operation done with a system call instead of a command (mount, umount, lo-up,
#   netns-add, netns-delete);
#   answered like a run (exit 0, or exit 1 with the reason on stderr), or error ENOSYS where unsupported.
# Answer frame: 4-byte length, then: id, kind, code, signal, msgLen, outLen, NUL, msg, stdout, stderr.
#   kind: exit (code), signal (signal number), timeout (killed at its deadline), error (msg: errno name, NUL,
#   text; the command never ran), sync (mode sync: msg is the first line written to fd 3).
# One process, one fork per command, one select loop over every command's pipes; answers are written whole
# by this loop alone, so they never interleave.

$SIG{PIPE} = 'IGNORE';
$SIG{CHLD} = sub { };    # wakes the select when a command ends
my $tick = POSIX::sysconf(POSIX::_SC_CLK_TCK()) || 100;

# System call numbers for the native operations (syscall.ph is not in perl-base).
my %sysnos = (
    x86_64  => { mount => 165, umount2 => 166, setns => 308, unshare => 272 },
    aarch64 => { mount => 40,  umount2 => 39,  setns => 268, unshare => 97 },
    riscv64 => { mount => 40,  umount2 => 39,  setns => 268, unshare => 97 },
);
my $arch = (POSIX::uname())[4];
my $sysno = $sysnos{$arch};

# Seconds on a monotonic clock (times() counts ticks since boot; Time::HiRes is not in perl-base).
sub now { return (POSIX::times())[0] / $tick; }

binmode STDIN;
binmode STDOUT;

sub errname {
    my ($n) = @_;
    local $! = $n;
    for my $k (keys %!) { return $k if $!{$k}; }
    return 'E' . ($n + 0);
}

sub frame {
    my ($id, $kind, $code, $sig, $msg, $out, $err) = @_;
    my $p = join("\0", $id, $kind, $code, $sig, length($msg), length($out)) . "\0" . $msg . $out . $err;
    return pack('N', length($p)) . $p;
}

sub write_all {
    my ($fh, $data) = @_;
    my $off = 0;
    while ($off < length($data)) {
        my $n = syswrite($fh, $data, length($data) - $off, $off);
        if (!defined $n) { next if $! == EINTR; return 0; }
        $off += $n;
    }
    return 1;
}

my %jobs;     # id => job
my %byfd;     # fileno => [job, role]; role: in, out, err, x (exec error), sync
my %bypid;    # pid => job, until reaped
my $rsel = IO::Select->new(\*STDIN);
my $wsel = IO::Select->new();
my $open = 1;

sub watch {
    my ($j, $role, $fh) = @_;
    $j->{fh}{$role} = $fh;
    $byfd{ fileno($fh) } = [ $j, $role ];
    if ($role eq 'in') {
        my $flags = fcntl($fh, F_GETFL, 0);
        fcntl($fh, F_SETFL, $flags | O_NONBLOCK);
        $wsel->add($fh);
    } else {
        $rsel->add($fh);
    }
}

sub unwatch {
    my ($j, $role) = @_;
    my $fh = delete $j->{fh}{$role} or return;
    delete $byfd{ fileno($fh) };
    $rsel->remove($fh);
    $wsel->remove($fh);
    close($fh);
}

sub finish {
    my ($j, @answer) = @_;
    $j->{done} = 1;
    unwatch($j, $_) for keys %{ $j->{fh} };
    delete $jobs{ $j->{id} };
    write_all(\*STDOUT, frame($j->{id}, @answer));
}

sub status_of {
    my ($st) = @_;
    return ('signal', 0, $st & 127) if $st & 127;
    return ('exit', $st >> 8, 0);
}

# In the forked child: become the command, or say why not on the exec-error pipe (closed by a good exec).
sub become {
    my ($j, $xw) = @_;
    $SIG{PIPE} = 'DEFAULT';
    $SIG{CHLD} = 'DEFAULT';
    if ($j->{cwd} ne '' && !chdir($j->{cwd})) {
        syswrite($xw, errname($!) . "\0cannot enter " . $j->{cwd} . ": $!");
        POSIX::_exit(127);
    }
    if ($j->{envc} >= 0) {
        %ENV = ();
        for my $kv (@{ $j->{env} }) {
            my $i = index($kv, '=');
            $ENV{ substr($kv, 0, $i) } = substr($kv, $i + 1) if $i > 0;
        }
    }
    {
        no warnings 'exec';
        exec { $j->{file} } $j->{file}, @{ $j->{args} };
    }
    syswrite($xw, errname($!) . "\0$!");
    POSIX::_exit(127);
}

# mount SOURCE TARGET FSTYPE DATA | umount TARGET FLAGS | netns-delete PATH: done here (each takes well under
# a millisecond). lo-up NETNS: in a forked child, which enters the namespace and sets lo up (the CNI loopback
# plugin's job). netns-add PATH: in a forked child, which makes a network namespace and binds it at PATH, as
# 'ip netns add' does (the caller makes sure PATH's directory is a shared mount, as ip would).
sub native {
    my ($j) = @_;
    my $op = $j->{file};
    my @a = @{ $j->{args} };
    my %known = map { $_ => 1 } qw(mount umount lo-up netns-add netns-delete);
    if (!$sysno || !$known{$op}) {
        finish($j, 'error', 0, 0, "ENOSYS\0native operation $op is not supported on $arch", '', '');
        return 1;
    }
    if ($op eq 'mount') {
        my ($source, $target, $fstype, $data) = map { '' . ($_ // '') } @a[0 .. 3];
        if (syscall($sysno->{mount}, $source, $target, $fstype, 0, $data) == 0) {
            finish($j, 'exit', 0, 0, '', '', '');
        } else {
            finish($j, 'exit', 32, 0, '', '', "mount: $target: $!\n");
        }
        return 1;
    }
    if ($op eq 'umount') {
        my ($target, $flags) = ('' . ($a[0] // ''), 0 + ($a[1] // 0));
        if (syscall($sysno->{umount2}, $target, $flags) == 0) {
            finish($j, 'exit', 0, 0, '', '', '');
        } else {
            finish($j, 'exit', 32, 0, '', '', "umount: $target: $!\n");
        }
        return 1;
    }
    if ($op eq 'netns-delete') {
        my $path = '' . ($a[0] // '');
        syscall($sysno->{umount2}, $path, 2);    # MNT_DETACH; a file that is not mounted just goes
        if (unlink($path)) {
            finish($j, 'exit', 0, 0, '', '', '');
        } else {
            finish($j, 'exit', 1, 0, '', '', "Cannot remove namespace file \"$path\": $!\n");
        }
        return 1;
    }
    $j->{native} = $op eq 'lo-up' ? \&lo_up : \&netns_add;
    return 0;
}

# In the forked child: a new network namespace, bound at args[0] (created here; it must not exist).
sub netns_add {
    my ($j) = @_;
    my $path = $j->{args}[0] // '';
    my $created = 0;
    my $fail = sub {
        my $why = "$!";
        unlink($path) if $created;
        syswrite(STDERR, "$_[0]: $why\n");
        POSIX::_exit(1);
    };
    sysopen(my $fh, $path, Fcntl::O_RDONLY() | Fcntl::O_CREAT() | Fcntl::O_EXCL(), 0)
        or $fail->("Cannot create namespace file \"$path\"");
    $created = 1;
    close($fh);
    syscall($sysno->{unshare}, 0x40000000) == 0 or $fail->('Failed to create a new network namespace');
    my ($self, $none) = ('/proc/self/ns/net', 'none');
    syscall($sysno->{mount}, $self, $path, $none, 4096, 0) == 0    # MS_BIND
        or $fail->("Bind /proc/self/ns/net -> $path failed");
    POSIX::_exit(0);
}

# In the forked child: enter the network namespace at args[0], set lo up.
sub lo_up {
    my ($j) = @_;
    my $path = $j->{args}[0] // '';
    my $fail = sub { syswrite(STDERR, "lo-up: $_[0]: $!\n"); POSIX::_exit(1); };
    open(my $ns, '<', $path) or $fail->("cannot open $path");
    syscall($sysno->{setns}, fileno($ns), 0x40000000) == 0 or $fail->("cannot enter $path");
    socket(my $s, 2, 2, 0) or $fail->('cannot make a socket');
    my $ifr = pack('Z16 x24', 'lo');
    ioctl($s, 0x8913, $ifr) or $fail->('SIOCGIFFLAGS lo');
    my $flags = unpack('x16 s', $ifr);
    $ifr = pack('Z16 s x22', 'lo', $flags | 1);
    ioctl($s, 0x8914, $ifr) or $fail->('SIOCSIFFLAGS lo');
    POSIX::_exit(0);
}

sub start {
    my ($j) = @_;
    return if $j->{mode} eq 'native' && native($j);
    my $sync = $j->{mode} eq 'sync';
    my ($log, $ir, $iw, $or, $ow, $er, $ew, $sr, $sw, $xr, $xw);
    if ($sync && !open($log, '>>', $j->{log})) {
        return finish($j, 'error', 0, 0, errname($!) . "\0cannot open " . $j->{log} . ": $!", '', '');
    }
    my $ok = $sync
        ? pipe($sr, $sw) && pipe($xr, $xw)
        : pipe($ir, $iw) && pipe($or, $ow) && pipe($er, $ew) && pipe($xr, $xw);
    return finish($j, 'error', 0, 0, errname($!) . "\0cannot make a pipe: $!", '', '') unless $ok;
    my $pid = fork();
    return finish($j, 'error', 0, 0, errname($!) . "\0cannot fork: $!", '', '') unless defined $pid;
    if ($pid == 0) {
        if ($sync) {
            # A detached command: its own session, output appended to the log, the sync pipe on fd 3.
            POSIX::setsid();
            if (fileno($xw) == 3) { open(my $moved, '>&', $xw) or POSIX::_exit(127); $xw = $moved; }
            open(STDIN, '<', '/dev/null');
            POSIX::dup2(fileno($log), 1);
            POSIX::dup2(fileno($log), 2);
            POSIX::dup2(fileno($sw), 3) if fileno($sw) != 3;
            open(my $three, '<&=', 3);
            fcntl($three, F_SETFD, 0);
        } else {
            POSIX::dup2(fileno($ir), 0);
            POSIX::dup2(fileno($ow), 1);
            POSIX::dup2(fileno($ew), 2);
        }
        if ($j->{native}) { close($xw); $j->{native}->($j); }
        become($j, $xw);
    }
    $j->{pid} = $pid;
    $bypid{$pid} = $j;
    close($xw);
    watch($j, 'x', $xr);
    if ($sync) {
        close($sw);
        close($log);
        watch($j, 'sync', $sr);
        $j->{deadline} = now() + ($j->{timeout} > 0 ? $j->{timeout} / 1000 : 120);
        return;
    }
    close($ir);
    close($ow);
    close($ew);
    watch($j, 'out', $or);
    watch($j, 'err', $er);
    if (length($j->{input}) > 0) { watch($j, 'in', $iw); } else { close($iw); }
    $j->{deadline} = $j->{timeout} > 0 ? now() + $j->{timeout} / 1000 : 0;
}

# Answers a job once it has all it needs; called after every event of the job.
sub progress {
    my ($j) = @_;
    return if $j->{done} || $j->{fh}{x};    # the exec outcome comes first
    if ($j->{buf}{x} ne '') {
        finish($j, 'error', 0, 0, $j->{buf}{x}, '', '') if defined $j->{status};
        return;
    }
    if ($j->{mode} eq 'sync') {
        my $line = $j->{buf}{sync};
        my $nl = index($line, "\n");
        return finish($j, 'sync', 0, 0, substr($line, 0, $nl), '', '') if $nl >= 0;
        return if $j->{fh}{sync};
        # A report without its newline, then the pipe closed: still a report.
        return finish($j, 'sync', 0, 0, $line, '', '') if length($line) > 0;
        # No report: say how the command ended, when it ends within 5 s.
        return finish($j, status_of($j->{status}), '', '', '') if defined $j->{status};
        $j->{grace} //= now() + 5;
        return;
    }
    return if $j->{fh}{out} || $j->{fh}{err} || !defined $j->{status};
    my ($kind, $code, $sig) = status_of($j->{status});
    $kind = 'timeout' if $j->{timedout};
    finish($j, $kind, $code, $sig, '', $j->{buf}{out}, $j->{buf}{err});
}

sub parse {
    my ($p) = @_;
    my $pos = 0;
    my $next = sub {
        my $i = index($p, "\0", $pos);
        die "malformed request\n" if $i < 0;
        my $s = substr($p, $pos, $i - $pos);
        $pos = $i + 1;
        return $s;
    };
    my %j = (fh => {}, buf => { out => '', err => '', x => '', sync => '' });
    $j{id} = $next->();
    $j{mode} = $next->();
    $j{timeout} = $next->();
    $j{cwd} = $next->();
    $j{log} = $next->();
    $j{file} = $next->();
    my $argc = $next->();
    $j{args} = [ map { $next->() } 1 .. $argc ];
    $j{envc} = $next->();
    $j{env} = [ map { $next->() } 1 .. $j{envc} ];
    $j{input} = substr($p, $pos);
    return \%j;
}

my $reqbuf = '';

sub on_request_data {
    my $n = sysread(STDIN, $reqbuf, 65536, length($reqbuf));
    if (!defined $n) { return if $! == EINTR || $! == EAGAIN; $n = 0; }
    if ($n == 0) {
        # The agent is gone: let running commands finish (a half-done runc create is worse), then exit.
        $open = 0;
        $rsel->remove(\*STDIN);
        return;
    }
    while (length($reqbuf) >= 4) {
        my $len = unpack('N', $reqbuf);
        last if length($reqbuf) < 4 + $len;
        my $p = substr($reqbuf, 4, $len);
        substr($reqbuf, 0, 4 + $len) = '';
        my $j = eval { parse($p) };
        if (!$j) {
            write_all(\*STDOUT, frame('', 'error', 0, 0, "EINVAL\0malformed request", '', ''));
            next;
        }
        $jobs{ $j->{id} } = $j;
        start($j);
    }
}

sub on_ready {
    my ($fh) = @_;
    my $entry = $byfd{ fileno($fh) } or return;
    my ($j, $role) = @$entry;
    if ($role eq 'in') {
        my $n = syswrite($fh, $j->{input});
        if (!defined $n) {
            return if $! == EINTR || $! == EAGAIN;
            $j->{input} = '';    # the command closed its stdin: its exit status tells the story
        } else {
            substr($j->{input}, 0, $n) = '';
        }
        unwatch($j, 'in') if $j->{input} eq '';
        return;
    }
    my $n = sysread($fh, $j->{buf}{$role}, 65536, length($j->{buf}{$role}));
    if (!defined $n) { return if $! == EINTR || $! == EAGAIN; $n = 0; }
    unwatch($j, $role) if $n == 0;
    progress($j);
}

while ($open || %jobs) {
    my $wait;
    my $t = now();
    for my $j (values %jobs) {
        if ($j->{mode} ne 'sync' && $j->{deadline} && !$j->{timedout} && $t >= $j->{deadline}) {
            kill('KILL', $j->{pid});
            $j->{timedout} = 1;
        }
        if ($j->{mode} eq 'sync' && !$j->{done}) {
            if ($j->{fh}{sync} && $t >= $j->{deadline}) { finish($j, 'timeout', 0, 0, '', '', ''); next; }
            if (defined $j->{grace} && $t >= $j->{grace}) { finish($j, 'timeout', 0, 0, '', '', ''); next; }
        }
        for my $d ($j->{timedout} ? () : ($j->{deadline} || ()), $j->{grace} // ()) {
            my $left = $d - $t;
            $wait = $left if !defined($wait) || $left < $wait;
        }
        # Pipes closed and no exit status yet: look again soon (a SIGCHLD can come just before the select).
        $wait = 0.02 if !defined $j->{status} && !%{ $j->{fh} } && (!defined($wait) || $wait > 0.02);
    }
    $wait = 0 if defined($wait) && $wait < 0;
    my ($r, $w) = IO::Select->select($rsel, $wsel, undef, $wait);
    for my $fh (@{ $r || [] }) {
        if ($open && fileno($fh) == 0) { on_request_data(); next; }
        on_ready($fh);
    }
    on_ready($_) for @{ $w || [] };
    while ((my $pid = waitpid(-1, POSIX::WNOHANG())) > 0) {
        my $j = delete $bypid{$pid} or next;
        $j->{status} = $?;
        progress($j) unless $j->{done};
    }
}
exit 0;
`;
