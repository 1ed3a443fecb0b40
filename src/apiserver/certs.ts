// First-start PKI: a self-signed CA and a serving certificate for the API server, kept in the data dir,
// plus the CA key and the client certificate the API server presents to node agents (logs, exec).
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
  /** The CA's key (`pki/ca.key`); undefined in data dirs made before it was kept. */
  caKeyPem?: string | undefined;
  /** The client certificate the API server presents to agents (CN `flotilla:apiserver`). */
  agentClient?: { certPem: string; keyPem: string } | undefined;
}

/** The Common Name agents require of the API server's client certificate. */
export const agentClientCN = 'flotilla:apiserver';

// The agent-client pair of each serving certificate ensurePki loaded, so a server started with only
// `tls: { certPem, keyPem }` still finds the credentials it needs for the node proxy.
const agentClients = new Map<string, { certPem: string; keyPem: string }>();

/** The agent-client key pair that belongs with this serving certificate, when ensurePki loaded one. */
export function agentClientFor(servingCertPem: string): { certPem: string; keyPem: string } | undefined {
  return agentClients.get(servingCertPem);
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
  const caCertPem = forge.pki.certificateToPem(ca);
  const caKeyPem = forge.pki.privateKeyToPem(caKeys.privateKey);
  return {
    caCertPem,
    certPem: forge.pki.certificateToPem(cert),
    keyPem: forge.pki.privateKeyToPem(keys.privateKey),
    caKeyPem,
    agentClient: await issueClientCert(caCertPem, caKeyPem, agentClientCN, [], now),
  };
}

/** A client certificate (extKeyUsage clientAuth) signed by the CA, for user `cn` in `groups` (O=). */
export async function issueClientCert(
  caCertPem: string,
  caKeyPem: string,
  cn: string,
  groups: string[] = [],
  now = new Date(),
): Promise<{ certPem: string; keyPem: string }> {
  const forge = (await import('node-forge')).default;
  const ca = forge.pki.certificateFromPem(caCertPem);
  const caKey = forge.pki.privateKeyFromPem(caKeyPem);
  const keys = newKey(forge);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(now.getTime() - 60_000);
  const caEnd = ca.validity.notAfter.getTime();
  cert.validity.notAfter = new Date(Math.min(caEnd, now.getTime() + 5 * 365 * 24 * 3600_000));
  cert.setSubject([
    ...groups.map((g) => ({ name: 'organizationName', value: g })),
    { name: 'commonName', value: cn },
  ]);
  cert.setIssuer(ca.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', clientAuth: true },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: forge.pki.privateKeyToPem(keys.privateKey) };
}

/**
 * Load the PKI from `<dataDir>/pki`, generating it on first start. The CA key (`ca.key`, 0600) and the
 * agent-client pair (`apiserver-agent-client.{crt,key}`) are kept too; a data dir made before they were
 * has no CA key, and then logs and exec cannot reach agents until the PKI is regenerated (said in the log).
 */
export async function ensurePki(
  dataDir: string,
  extraHosts: string[] = [],
  log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<ServingPki> {
  const dir = join(dataDir, 'pki');
  const files = {
    ca: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    cert: join(dir, 'apiserver.crt'),
    key: join(dir, 'apiserver.key'),
    agentCert: join(dir, 'apiserver-agent-client.crt'),
    agentKey: join(dir, 'apiserver-agent-client.key'),
  };
  let pki: ServingPki;
  if (existsSync(files.ca) && existsSync(files.cert) && existsSync(files.key)) {
    pki = {
      caCertPem: readFileSync(files.ca, 'utf8'),
      certPem: readFileSync(files.cert, 'utf8'),
      keyPem: readFileSync(files.key, 'utf8'),
      caKeyPem: existsSync(files.caKey) ? readFileSync(files.caKey, 'utf8') : undefined,
    };
    if (existsSync(files.agentCert) && existsSync(files.agentKey)) {
      pki.agentClient = {
        certPem: readFileSync(files.agentCert, 'utf8'),
        keyPem: readFileSync(files.agentKey, 'utf8'),
      };
    } else if (pki.caKeyPem !== undefined) {
      pki.agentClient = await issueClientCert(pki.caCertPem, pki.caKeyPem, agentClientCN);
      writeFileSync(files.agentCert, pki.agentClient.certPem, { mode: 0o644 });
      writeFileSync(files.agentKey, pki.agentClient.keyPem, { mode: 0o600 });
    } else {
      log(
        `certificates: ${files.caKey} is missing (the data dir predates it), so the API server has no client ` +
          `certificate for node agents and logs/exec will fail; regenerate the PKI (move ${dir} away and ` +
          `restart, then hand out the new kubeconfig) to enable them`,
      );
    }
  } else {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    pki = await generatePki(extraHosts);
    writeFileSync(files.ca, pki.caCertPem, { mode: 0o644 });
    if (pki.caKeyPem !== undefined) writeFileSync(files.caKey, pki.caKeyPem, { mode: 0o600 });
    writeFileSync(files.cert, pki.certPem, { mode: 0o644 });
    writeFileSync(files.key, pki.keyPem, { mode: 0o600 });
    if (pki.agentClient !== undefined) {
      writeFileSync(files.agentCert, pki.agentClient.certPem, { mode: 0o644 });
      writeFileSync(files.agentKey, pki.agentClient.keyPem, { mode: 0o600 });
    }
  }
  if (pki.agentClient !== undefined) agentClients.set(pki.certPem, pki.agentClient);
  return pki;
}
