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
#   id, mode (run|sync), timeoutMs, cwd, log, file, argc, args..., envc (-1 = inherit), env..., input (the rest).
# Response frame: 4-byte length, then: id, kind, code, signal, msgLen, outLen, NUL, msg, stdout, stderr.
#   kind: exit (code), signal (signal number), timeout (killed; code/signal as it ended), error (msg: errno name
#   and text; the command never ran), sync (mode sync: msg is the first line on the sync pipe, or empty).
# The main loop only reads requests, forks one worker per request and relays each worker's whole answer, so
# answers never interleave. Workers do the blocking work (exec, pipes, waiting).

$SIG{PIPE} = 'IGNORE';
my $tick = POSIX::sysconf(POSIX::_SC_CLK_TCK()) || 100;
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

sub nonblocking {
    my ($fh) = @_;
    my $flags = fcntl($fh, F_GETFL, 0);
    fcntl($fh, F_SETFL, $flags | O_NONBLOCK);
}

# In the child of a worker: become the command, or report why not on the CLOEXEC pipe.
sub become {
    my ($j, $xw) = @_;
    $SIG{PIPE} = 'DEFAULT';
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

# Waits for the exec-error pipe: empty when the exec happened.
sub exec_error {
    my ($xr) = @_;
    my $buf = '';
    while (1) {
        my $n = sysread($xr, $buf, 4096, length($buf));
        if (!defined $n) { next if $! == EINTR; last; }
        last if $n == 0;
    }
    return $buf;
}

sub status_of {
    my ($st) = @_;
    return ('signal', 0, $st & 127) if $st & 127;
    return ('exit', $st >> 8, 0);
}

sub run_job {
    my ($j) = @_;
    my ($ir, $iw, $or, $ow, $er, $ew, $xr, $xw);
    pipe($ir, $iw) && pipe($or, $ow) && pipe($er, $ew) && pipe($xr, $xw)
        or return ('error', 0, 0, errname($!) . "\0cannot make a pipe: $!", '', '');
    my $pid = fork();
    return ('error', 0, 0, errname($!) . "\0cannot fork: $!", '', '') unless defined $pid;
    if ($pid == 0) {
        close($iw); close($or); close($er); close($xr);
        POSIX::dup2(fileno($ir), 0); POSIX::dup2(fileno($ow), 1); POSIX::dup2(fileno($ew), 2);
        become($j, $xw);
    }
    close($ir); close($ow); close($ew); close($xw);
    my $failed = exec_error($xr);
    close($xr);
    if ($failed ne '') {
        waitpid($pid, 0);
        return ('error', 0, 0, $failed, '', '');
    }
    my %buf = (out => '', err => '');
    my $outfd = fileno($or);
    my $sel = IO::Select->new($or, $er);
    my $in = $j->{input};
    my $wsel = IO::Select->new();
    if (length($in) > 0) { nonblocking($iw); $wsel->add($iw); } else { close($iw); }
    my $deadline = $j->{timeout} > 0 ? now() + $j->{timeout} / 1000 : 0;
    my $timedout = 0;
    while ($sel->count() > 0 || $wsel->count() > 0) {
        my $wait = undef;
        if ($deadline && !$timedout) {
            $wait = $deadline - now();
            if ($wait <= 0) { kill('KILL', $pid); $timedout = 1; $wait = undef; }
        }
        my ($r, $w) = IO::Select->select($sel, $wsel, undef, $wait);
        for my $fh (@{ $w || [] }) {
            my $n = syswrite($fh, $in);
            if (!defined $n) {
                next if $! == EINTR || $! == EAGAIN;
                $wsel->remove($fh); close($fh); $in = '';
                next;
            }
            substr($in, 0, $n) = '';
            if ($in eq '') { $wsel->remove($fh); close($fh); }
        }
        for my $fh (@{ $r || [] }) {
            my $key = fileno($fh) == $outfd ? 'out' : 'err';
            my $n = sysread($fh, $buf{$key}, 65536, length($buf{$key}));
            if (!defined $n) { next if $! == EINTR || $! == EAGAIN; }
            if (!$n) { $sel->remove($fh); close($fh); }
        }
    }
    waitpid($pid, 0);
    my ($kind, $code, $sig) = status_of($?);
    $kind = 'timeout' if $timedout;
    return ($kind, $code, $sig, '', $buf{out}, $buf{err});
}

# mode sync: a detached command (its own session, output appended to a log file) that reports on fd 3
# (conmon's _OCI_SYNCPIPE). Answers with the first line written there, or with how it ended.
sub sync_job {
    my ($j) = @_;
    my $log;
    open($log, '>>', $j->{log}) or return ('error', 0, 0, errname($!) . "\0cannot open " . $j->{log} . ": $!", '', '');
    my ($sr, $sw, $xr, $xw);
    pipe($sr, $sw) && pipe($xr, $xw) or return ('error', 0, 0, errname($!) . "\0cannot make a pipe: $!", '', '');
    my $pid = fork();
    return ('error', 0, 0, errname($!) . "\0cannot fork: $!", '', '') unless defined $pid;
    if ($pid == 0) {
        close($sr); close($xr);
        POSIX::setsid();
        open(STDIN, '<', '/dev/null');
        POSIX::dup2(fileno($log), 1); POSIX::dup2(fileno($log), 2);
        if (fileno($sw) != 3) { POSIX::dup2(fileno($sw), 3); }
        open(my $three, '<&=', 3);
        fcntl($three, F_SETFD, 0);
        become($j, $xw);
    }
    close($sw); close($xw); close($log);
    my $failed = exec_error($xr);
    close($xr);
    if ($failed ne '') {
        waitpid($pid, 0);
        return ('error', 0, 0, $failed, '', '');
    }
    my $line = '';
    my $sel = IO::Select->new($sr);
    my $deadline = now() + ($j->{timeout} > 0 ? $j->{timeout} / 1000 : 120);
    while (index($line, "\n") < 0) {
        my $wait = $deadline - now();
        last if $wait <= 0;
        my @r = $sel->can_read($wait);
        next unless @r;
        my $n = sysread($sr, $line, 65536, length($line));
        if (!defined $n) { next if $! == EINTR || $! == EAGAIN; last; }
        last if $n == 0;
    }
    close($sr);
    my $nl = index($line, "\n");
    return ('sync', 0, 0, substr($line, 0, $nl), '', '') if $nl >= 0;
    # A report without its newline, then the pipe closed: still a report.
    return ('sync', 0, 0, $line, '', '') if length($line) > 0;
    # No report: say how the command ended, when it ends within 5 s.
    for (1 .. 100) {
        my $w = waitpid($pid, POSIX::WNOHANG());
        if ($w == $pid) {
            my ($kind, $code, $sig) = status_of($?);
            return ($kind, $code, $sig, '', '', '');
        }
        select(undef, undef, undef, 0.05);
    }
    return ('timeout', 0, 0, '', '', '');
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
    my %j;
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
my %workers;    # fileno of the answer pipe => { fh, id, buf }
my $sel = IO::Select->new(\*STDIN);
my $open = 1;

sub start_worker {
    my ($p) = @_;
    my $j = eval { parse($p) };
    if (!$j) {
        write_all(\*STDOUT, frame('', 'error', 0, 0, "EINVAL\0malformed request", '', ''));
        return;
    }
    my ($ar, $aw);
    if (!pipe($ar, $aw)) {
        write_all(\*STDOUT, frame($j->{id}, 'error', 0, 0, errname($!) . "\0cannot make a pipe: $!", '', ''));
        return;
    }
    my $pid = fork();
    if (!defined $pid) {
        write_all(\*STDOUT, frame($j->{id}, 'error', 0, 0, errname($!) . "\0cannot fork: $!", '', ''));
        close($ar); close($aw);
        return;
    }
    if ($pid == 0) {
        close($ar);
        for my $w (values %workers) { close($w->{fh}); }
        open(STDIN, '<', '/dev/null');
        open(STDOUT, '>', '/dev/null');
        my @answer = $j->{mode} eq 'sync' ? sync_job($j) : run_job($j);
        write_all($aw, frame($j->{id}, @answer));
        POSIX::_exit(0);
    }
    close($aw);
    $workers{ fileno($ar) } = { fh => $ar, id => $j->{id}, buf => '' };
    $sel->add($ar);
}

while ($open || %workers) {
    my @ready = $sel->can_read();
    if (!@ready) {
        next if $! == EINTR;
        last;
    }
    for my $fh (@ready) {
        if ($open && fileno($fh) == 0) {
            my $n = sysread(STDIN, $reqbuf, 65536, length($reqbuf));
            if (!defined $n) { next if $! == EINTR || $! == EAGAIN; $n = 0; }
            if ($n == 0) { $open = 0; $sel->remove(\*STDIN); next; }
            while (length($reqbuf) >= 4) {
                my $len = unpack('N', $reqbuf);
                last if length($reqbuf) < 4 + $len;
                my $p = substr($reqbuf, 4, $len);
                substr($reqbuf, 0, 4 + $len) = '';
                start_worker($p);
            }
            next;
        }
        my $w = $workers{ fileno($fh) } or next;
        my $n = sysread($fh, $w->{buf}, 65536, length($w->{buf}));
        if (!defined $n) { next if $! == EINTR || $! == EAGAIN; $n = 0; }
        next if $n > 0;
        $sel->remove($fh);
        delete $workers{ fileno($fh) };
        close($fh);
        my $answer = $w->{buf};
        $answer = frame($w->{id}, 'error', 0, 0, "EIO\0the spawn worker ended without an answer", '', '') if $answer eq '';
        write_all(\*STDOUT, $answer);
    }
    1 while waitpid(-1, POSIX::WNOHANG()) > 0;
}
exit 0;
`;
