// Start a throwaway OCI registry (Debian's `docker-registry`, distribution 2.8) for integration tests.
//
//   const reg = await startRegistry();                         // plain HTTP on 127.0.0.1:<free port>
//   const reg = await startRegistry({ tls: true, auth: { username: 'u', password: 'p' } });
//   ... reg.host ('127.0.0.1:PORT'), reg.caPem (with tls), reg.storageDir (the registry's files)
//   await reg.stop();                                          // kills it, removes its temp dir
//
// TLS uses a fresh self-signed CA and a serving certificate for 127.0.0.1/localhost; auth is
// htpasswd with a bcrypt hash (the registry answers `WWW-Authenticate: Basic`). Any registry still
// running when the test process exits is killed.
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { freePort } from './etcd.js';

export const registryBinary = '/usr/bin/docker-registry';
const setpriv = '/usr/bin/setpriv';

export interface RegistryInstance {
  /** `127.0.0.1:PORT`, as written in image references. */
  host: string;
  /** The CA that signed the serving certificate (only with `tls`). */
  caPem?: string;
  /** The registry's storage root (`docker/registry/v2/...` below it). */
  storageDir: string;
  stop(): Promise<void>;
}

/** The same thing under the name other tests use. */
export type TestRegistry = RegistryInstance;

export interface StartRegistryOptions {
  tls?: boolean;
  auth?: { username: string; password: string };
}

const running = new Set<{ child: ChildProcess; dir: string }>();
let hooked = false;

function killAll(): void {
  for (const { child, dir } of running) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
  running.clear();
}

async function selfSigned(): Promise<{ caPem: string; certPem: string; keyPem: string }> {
  const forge = (await import('node-forge')).default;
  const key = (): {
    privateKey: import('node-forge').pki.rsa.PrivateKey;
    publicKey: import('node-forge').pki.rsa.PublicKey;
  } => {
    const { privateKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    const priv = forge.pki.privateKeyFromPem(privateKey);
    return { privateKey: priv, publicKey: forge.pki.setRsaPublicKey(priv.n, priv.e) };
  };
  const now = Date.now();
  const caKeys = key();
  const ca = forge.pki.createCertificate();
  ca.publicKey = caKeys.publicKey;
  ca.serialNumber = `01${randomBytes(8).toString('hex')}`;
  ca.validity.notBefore = new Date(now - 60_000);
  ca.validity.notAfter = new Date(now + 24 * 3600_000);
  const caSubject = [
    { name: 'commonName', value: `flotilla-test-registry-ca-${randomBytes(3).toString('hex')}` },
  ];
  ca.setSubject(caSubject);
  ca.setIssuer(caSubject);
  ca.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
  ]);
  ca.sign(caKeys.privateKey, forge.md.sha256.create());
  const keys = key();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = `02${randomBytes(8).toString('hex')}`;
  cert.validity.notBefore = ca.validity.notBefore;
  cert.validity.notAfter = ca.validity.notAfter;
  cert.setSubject([{ name: 'commonName', value: '127.0.0.1' }]);
  cert.setIssuer(caSubject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: [
        { type: 2, value: 'localhost' },
        { type: 7, ip: '127.0.0.1' },
      ],
    },
  ]);
  cert.sign(caKeys.privateKey, forge.md.sha256.create());
  return {
    caPem: forge.pki.certificateToPem(ca),
    certPem: forge.pki.certificateToPem(cert),
    keyPem: forge.pki.privateKeyToPem(keys.privateKey),
  };
}

export async function startRegistry(opts: StartRegistryOptions = {}): Promise<RegistryInstance> {
  if (!existsSync(registryBinary))
    throw new Error(`${registryBinary} not found: install it with \`apt-get install docker-registry\``);
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-registry-'));
  const storageDir = join(dir, 'storage');
  mkdirSync(storageDir);
  let caPem: string | undefined;
  const lines: string[] = [
    'version: 0.1',
    'log:',
    '  level: warn',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${storageDir}`,
  ];
  // no blob descriptor cache: tests corrupt blobs behind the registry's back
  lines.push('  cache:', '    blobdescriptor: ""');
  const httpLines = (port: number): string[] => {
    const out = ['http:', `  addr: 127.0.0.1:${port}`, `  secret: ${randomBytes(16).toString('hex')}`];
    if (opts.tls === true)
      out.push('  tls:', `    certificate: ${join(dir, 'cert.pem')}`, `    key: ${join(dir, 'key.pem')}`);
    return out;
  };
  if (opts.tls === true) {
    const pki = await selfSigned();
    caPem = pki.caPem;
    writeFileSync(join(dir, 'cert.pem'), pki.certPem);
    writeFileSync(join(dir, 'key.pem'), pki.keyPem, { mode: 0o600 });
    writeFileSync(join(dir, 'ca.pem'), pki.caPem);
  }
  if (opts.auth !== undefined) {
    const bcrypt = (await import('bcryptjs')).default;
    const hash = bcrypt.hashSync(opts.auth.password, 10);
    writeFileSync(join(dir, 'htpasswd'), `${opts.auth.username}:${hash}\n`);
    lines.push('auth:', '  htpasswd:', '    realm: flotilla-test', `    path: ${join(dir, 'htpasswd')}`);
  }
  if (!hooked) {
    hooked = true;
    process.once('exit', killAll);
    // a signal ends the process without 'exit': clean up, then let the signal do what it would have done
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.once(signal, () => {
        killAll();
        if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
      });
    }
  }
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const config = join(dir, 'config.yml');
    writeFileSync(config, [...lines, ...httpLines(port)].join('\n') + '\n');
    // setpriv --pdeathsig: the registry dies with the test process even when that is SIGKILLed
    const [cmd, args] = existsSync(setpriv)
      ? [setpriv, ['--pdeathsig', 'KILL', registryBinary, 'serve', config]]
      : [registryBinary, ['serve', config]];
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const entry = { child, dir };
    running.add(entry);
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (c: string) => {
      stderr = (stderr + c).slice(-8192);
    });
    child.once('error', () => undefined);
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    let dead = false;
    void exited.then(() => {
      dead = true;
    });
    const host = `127.0.0.1:${port}`;
    const stop = async (): Promise<void> => {
      if (!dead) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      running.delete(entry);
      rmSync(dir, { recursive: true, force: true });
    };
    const dispatcher = new Agent(caPem !== undefined ? { connect: { ca: caPem } } : {});
    const deadline = Date.now() + 20_000;
    let ready = false;
    while (!dead && Date.now() < deadline) {
      try {
        const res = await request(`${opts.tls === true ? 'https' : 'http'}://${host}/v2/`, { dispatcher });
        await res.body.dump();
        if (res.statusCode === 200 || res.statusCode === 401) {
          ready = true;
          break;
        }
      } catch {
        // not yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    await dispatcher.close();
    if (ready) {
      const out: RegistryInstance = { host, storageDir, stop };
      if (caPem !== undefined) out.caPem = caPem;
      return out;
    }
    lastError = new Error(`docker-registry did not start on ${host}: ${stderr}`);
    if (!dead) child.kill('SIGKILL');
    await exited;
    running.delete(entry);
  }
  rmSync(dir, { recursive: true, force: true });
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}
