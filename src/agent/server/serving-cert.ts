// The agent server's own serving certificate: self-signed, like the kubelet's default
// (`<dir>/agent.crt`, `agent.key` when a dir is given so it survives restarts). The API server does not
// verify it (kube-apiserver's default towards kubelets); what matters is the client certificate check.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

export interface KeyPairPem {
  certPem: string;
  keyPem: string;
}

export async function selfSignedCert(hosts: string[], now = new Date()): Promise<KeyPairPem> {
  const forge = (await import('node-forge')).default;
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const priv = forge.pki.privateKeyFromPem(privateKey);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(priv.n, priv.e);
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f;
  cert.serialNumber = serial.toString('hex');
  cert.validity.notBefore = new Date(now.getTime() - 60_000);
  cert.validity.notAfter = new Date(now.getTime() + 365 * 24 * 3600_000);
  const subject = [{ name: 'commonName', value: `${hostname()}@${Math.floor(now.getTime() / 1000)}` }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  const names = [...new Set(['localhost', hostname(), '127.0.0.1', ...hosts])];
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: names.map((n) =>
        /^[0-9.]+$/.test(n) || n.includes(':') ? { type: 7, ip: n } : { type: 2, value: n },
      ),
    },
  ]);
  cert.sign(priv, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: privateKey };
}

/** Load `<dir>/agent.{crt,key}`, generating them when missing. */
export async function ensureServingCert(dir: string, hosts: string[]): Promise<KeyPairPem> {
  const certFile = join(dir, 'agent.crt');
  const keyFile = join(dir, 'agent.key');
  if (existsSync(certFile) && existsSync(keyFile))
    return { certPem: readFileSync(certFile, 'utf8'), keyPem: readFileSync(keyFile, 'utf8') };
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const pair = await selfSignedCert(hosts);
  writeFileSync(certFile, pair.certPem, { mode: 0o644 });
  writeFileSync(keyFile, pair.keyPem, { mode: 0o600 });
  return pair;
}
