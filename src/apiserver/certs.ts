// First-start PKI: a self-signed CA and a serving certificate for the API server, kept in the data dir.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import type forgeModule from 'node-forge';

type Forge = typeof forgeModule;

export interface ServingPki {
  caCertPem: string;
  certPem: string;
  keyPem: string;
}

function newKey(forge: Forge): forgeModule.pki.rsa.KeyPair {
  // RSA keys come from node's native generator; forge only assembles the certificates.
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const priv = forge.pki.privateKeyFromPem(privateKey);
  const pub = forge.pki.setRsaPublicKey(priv.n, priv.e);
  return { privateKey: priv, publicKey: pub };
}

function serial(): string {
  // Positive 16-byte serial number.
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString('hex');
}

/** Every address a client on this machine may use to reach the server. */
export function localSubjectAltNames(extraHosts: string[] = []): { dns: string[]; ips: string[] } {
  const dns = new Set<string>(['localhost', hostname()]);
  const ips = new Set<string>(['127.0.0.1', '::1']);
  for (const list of Object.values(networkInterfaces())) {
    for (const addr of list ?? []) {
      if (addr.family === 'IPv4' || addr.family === 'IPv6')
        ips.add(addr.address.split('%')[0] ?? addr.address);
    }
  }
  for (const host of extraHosts) {
    if (/^[0-9.]+$/.test(host) || host.includes(':')) ips.add(host);
    else if (host !== '') dns.add(host);
  }
  return { dns: [...dns], ips: [...ips] };
}

/** node-forge is loaded only here: it is needed once, at first start (and costs memory otherwise). */
export async function generatePki(extraHosts: string[] = [], now = new Date()): Promise<ServingPki> {
  const forge = (await import('node-forge')).default;
  const caKeys = newKey(forge);
  const ca = forge.pki.createCertificate();
  ca.publicKey = caKeys.publicKey;
  ca.serialNumber = serial();
  ca.validity.notBefore = new Date(now.getTime() - 60_000);
  ca.validity.notAfter = new Date(now.getTime() + 10 * 365 * 24 * 3600_000);
  const caSubject = [{ name: 'commonName', value: `flotilla-ca-${Math.floor(now.getTime() / 1000)}` }];
  ca.setSubject(caSubject);
  ca.setIssuer(caSubject);
  ca.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  ca.sign(caKeys.privateKey, forge.md.sha256.create());

  const keys = newKey(forge);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serial();
  cert.validity.notBefore = ca.validity.notBefore;
  cert.validity.notAfter = new Date(now.getTime() + 5 * 365 * 24 * 3600_000);
  cert.setSubject([{ name: 'commonName', value: 'flotilla-apiserver' }]);
  cert.setIssuer(caSubject);
  const san = localSubjectAltNames(extraHosts);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: [...san.dns.map((value) => ({ type: 2, value })), ...san.ips.map((ip) => ({ type: 7, ip }))],
    },
  ]);
  cert.sign(caKeys.privateKey, forge.md.sha256.create());
  return {
    caCertPem: forge.pki.certificateToPem(ca),
    certPem: forge.pki.certificateToPem(cert),
    keyPem: forge.pki.privateKeyToPem(keys.privateKey),
  };
}

/** Load the PKI from `<dataDir>/pki`, generating it on first start. */
export async function ensurePki(dataDir: string, extraHosts: string[] = []): Promise<ServingPki> {
  const dir = join(dataDir, 'pki');
  const files = {
    ca: join(dir, 'ca.crt'),
    cert: join(dir, 'apiserver.crt'),
    key: join(dir, 'apiserver.key'),
  };
  if (existsSync(files.ca) && existsSync(files.cert) && existsSync(files.key)) {
    return {
      caCertPem: readFileSync(files.ca, 'utf8'),
      certPem: readFileSync(files.cert, 'utf8'),
      keyPem: readFileSync(files.key, 'utf8'),
    };
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const pki = await generatePki(extraHosts);
  writeFileSync(files.ca, pki.caCertPem, { mode: 0o644 });
  writeFileSync(files.cert, pki.certPem, { mode: 0o644 });
  writeFileSync(files.key, pki.keyPem, { mode: 0o600 });
  return pki;
}
