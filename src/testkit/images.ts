// Real OCI images for tests.
//
//   const layout = await buildBusyboxLayout(join(tmp, 'img'), '1');     // umoci: busybox + links
//   await pushImage(layout, '1', registry, 'busybox:1');                  // skopeo into startRegistry()
//   await pushImage(layout, '1', tlsRegistry, 'busybox:1', { username, password });
//   await writeOciLayout(dir, 'v1', [lowerDir, upperDir]);                // hand-made layers from dirs
//
// buildBusyboxLayout builds with umoci into the given dir (about 1 MB, half a second).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { RegistryInstance } from './registry.js';

const exec = promisify(execFile);

async function run(cmd: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await exec(cmd, args, { maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message?: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr ?? e.message ?? String(err)}`);
  }
}

function ensureTools(): void {
  for (const [bin, pkg] of [
    ['/usr/bin/umoci', 'umoci'],
    ['/usr/bin/skopeo', 'skopeo'],
    ['/bin/busybox', 'busybox-static'],
  ] as const) {
    if (!existsSync(bin)) throw new Error(`${bin} not found: install it with \`apt-get install ${pkg}\``);
  }
}

async function buildInto(layout: string, tag: string): Promise<void> {
  ensureTools();
  const work = mkdtempSync(join(tmpdir(), 'flotilla-bb-bundle-'));
  try {
    const bundle = join(work, 'bundle');
    await run('umoci', ['init', '--layout', layout]);
    await run('umoci', ['new', '--image', `${layout}:${tag}`]);
    await run('umoci', ['unpack', '--image', `${layout}:${tag}`, bundle]);
    const rootfs = join(bundle, 'rootfs');
    for (const d of ['bin', 'etc', 'tmp', 'root', 'var/www']) mkdirSync(join(rootfs, d), { recursive: true });
    chmodSync(join(rootfs, 'tmp'), 0o1777);
    cpSync('/bin/busybox', join(rootfs, 'bin', 'busybox'));
    chmodSync(join(rootfs, 'bin', 'busybox'), 0o755);
    // the links `busybox --install -s` makes, pointing at /bin/busybox inside the image
    for (const applet of (await run('/bin/busybox', ['--list'])).split('\n')) {
      if (applet !== '' && applet !== 'busybox') symlinkSync('/bin/busybox', join(rootfs, 'bin', applet));
    }
    writeFileSync(
      join(rootfs, 'etc', 'passwd'),
      'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
    );
    writeFileSync(join(rootfs, 'etc', 'group'), 'root:x:0:\nnobody:x:65534:\n');
    await run('umoci', ['repack', '--image', `${layout}:${tag}`, bundle]);
    await run('umoci', [
      'config',
      '--image',
      `${layout}:${tag}`,
      '--config.cmd',
      'sh',
      '--config.env',
      'PATH=/bin',
    ]);
    await run('umoci', ['gc', '--layout', layout]);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * An OCI layout at `dir` holding `<dir>:<tag>`: /bin/busybox with its applet links, /etc/passwd and
 * /etc/group (root, nobody), Cmd ["sh"]. Returns `dir`.
 */
export async function buildBusyboxLayout(dir: string, tag: string): Promise<string> {
  // no cache across calls: a build takes about half a second, and a cache outside the caller's
  // directory would outlive test processes that vitest ends with a signal
  rmSync(dir, { recursive: true, force: true });
  await buildInto(dir, tag);
  return dir;
}

/** Pushes `<layoutDir>:<tag>` to the registry as `name:tag` (e.g. 'busybox:1') with skopeo. */
export async function pushImage(
  layoutDir: string,
  tag: string,
  registry: Pick<RegistryInstance, 'host' | 'caPem'>,
  nameTag: string,
  creds?: { username: string; password: string },
): Promise<string> {
  const args = ['copy', '--quiet'];
  let certDir: string | undefined;
  if (registry.caPem !== undefined) {
    certDir = mkdtempSync(join(tmpdir(), 'flotilla-skopeo-certs-'));
    writeFileSync(join(certDir, 'ca.crt'), registry.caPem);
    args.push(`--dest-cert-dir=${certDir}`);
  } else args.push('--dest-tls-verify=false');
  if (creds !== undefined) args.push(`--dest-creds=${creds.username}:${creds.password}`);
  else args.push('--dest-no-creds');
  const dest = `${registry.host}/${nameTag}`;
  args.push(`oci:${layoutDir}:${tag}`, `docker://${dest}`);
  try {
    await run('skopeo', args);
  } finally {
    if (certDir !== undefined) rmSync(certDir, { recursive: true, force: true });
  }
  return dest;
}

function sha256(b: Buffer | string): string {
  return createHash('sha256').update(b).digest('hex');
}

/**
 * Writes an OCI layout at `dir` with one image `<dir>:<tag>` whose layers are the given directories
 * (bottom first), each tarred as it is on disk (so a file named `.wh.x` or `.wh..wh..opq` becomes a
 * whiteout in the image). Returns the image config digest (the image id).
 */
export async function writeOciLayout(
  dir: string,
  tag: string,
  layerDirs: string[],
  config: { Cmd?: string[]; Env?: string[] } = { Cmd: ['sh'] },
): Promise<string> {
  const blobs = join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const put = (b: Buffer): { digest: string; size: number } => {
    const hex = sha256(b);
    writeFileSync(join(blobs, hex), b);
    return { digest: `sha256:${hex}`, size: b.length };
  };
  const layers: { mediaType: string; digest: string; size: number }[] = [];
  const diffIds: string[] = [];
  for (const d of layerDirs) {
    const tarFile = join(dir, 'layer.tmp.tar');
    await run('tar', ['--numeric-owner', '--sort=name', '-C', d, '-cf', tarFile, '.']);
    const tarBytes = readFileSync(tarFile);
    diffIds.push(`sha256:${sha256(tarBytes)}`);
    await run('gzip', ['-n', '-f', tarFile]);
    const gz = readFileSync(`${tarFile}.gz`);
    rmSync(`${tarFile}.gz`);
    layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...put(gz) });
  }
  const cfg = put(
    Buffer.from(
      JSON.stringify({
        architecture: process.arch === 'x64' ? 'amd64' : process.arch,
        os: 'linux',
        config,
        rootfs: { type: 'layers', diff_ids: diffIds },
      }),
    ),
  );
  const manifest = put(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...cfg },
        layers,
      }),
    ),
  );
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...manifest,
          annotations: { 'org.opencontainers.image.ref.name': tag },
        },
      ],
    }),
  );
  return cfg.digest;
}
