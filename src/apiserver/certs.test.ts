import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { agentClientFor, ensurePki } from './certs.js';

describe('PKI for the node proxy', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('keeps the CA key (0600) and issues the agent-client certificate from the CA', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flotilla-pki-'));
    dirs.push(dir);
    const pki = await ensurePki(dir, [], () => undefined);
    expect(statSync(join(dir, 'pki', 'ca.key')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'pki', 'apiserver-agent-client.key')).mode & 0o777).toBe(0o600);
    const cert = new X509Certificate(pki.agentClient?.certPem ?? '');
    expect(cert.subject).toContain('CN=flotilla:apiserver');
    expect(cert.verify(new X509Certificate(pki.caCertPem).publicKey)).toBe(true);
    expect(cert.keyUsage).toContain('1.3.6.1.5.5.7.3.2'); // clientAuth
    expect(agentClientFor(pki.certPem)).toEqual(pki.agentClient);
    // Loaded again as written.
    const again = await ensurePki(dir, [], () => undefined);
    expect(again.agentClient).toEqual(pki.agentClient);
  });

  it('re-issues a missing agent-client pair from the CA key, and says what to do without one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flotilla-pki-'));
    dirs.push(dir);
    await ensurePki(dir, [], () => undefined);
    unlinkSync(join(dir, 'pki', 'apiserver-agent-client.crt'));
    const reissued = await ensurePki(dir, [], () => undefined);
    expect(existsSync(join(dir, 'pki', 'apiserver-agent-client.crt'))).toBe(true);
    expect(reissued.agentClient).toBeDefined();
    unlinkSync(join(dir, 'pki', 'apiserver-agent-client.crt'));
    unlinkSync(join(dir, 'pki', 'ca.key'));
    const lines: string[] = [];
    const old = await ensurePki(dir, [], (l) => lines.push(l));
    expect(old.agentClient).toBeUndefined();
    expect(lines.join('\n')).toMatch(/ca\.key is missing.*logs\/exec will fail; regenerate the PKI/);
  });
});
