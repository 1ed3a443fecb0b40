// The connection a command uses: kubeconfig (found like kubectl finds it) plus the global flags.
import type { ApiClient } from '../api/client/client.js';
import { loadKubeconfig, type ClientConfig } from '../api/client/kubeconfig.js';
import type { CliIO } from './io.js';

export interface GlobalOptions {
  kubeconfig?: string;
  namespace?: string;
  context?: string;
  server?: string;
  token?: string;
  insecureSkipTlsVerify?: boolean;
}

export class Session {
  readonly io: CliIO;
  readonly globals: GlobalOptions;
  private config: ClientConfig | undefined;
  private apiClient: ApiClient | undefined;

  constructor(io: CliIO, globals: GlobalOptions) {
    this.io = io;
    this.globals = globals;
  }

  /** The `-n` flag, when given. */
  get explicitNamespace(): string | undefined {
    const ns = this.globals.namespace;
    return ns !== undefined && ns !== '' ? ns : undefined;
  }

  async clientConfig(): Promise<ClientConfig> {
    if (this.config !== undefined) return this.config;
    const opts: { path?: string; context?: string; env: Record<string, string | undefined> } = {
      env: this.io.env,
    };
    if (this.globals.kubeconfig !== undefined) opts.path = this.globals.kubeconfig;
    if (this.globals.context !== undefined) opts.context = this.globals.context;
    let config: ClientConfig;
    try {
      config = await loadKubeconfig(opts);
    } catch (err) {
      // `--server` alone is enough to connect (e.g. to a plain-HTTP test server).
      if (this.globals.server === undefined || this.globals.kubeconfig !== undefined) throw err;
      config = { server: this.globals.server };
    }
    if (this.globals.server !== undefined) config = { ...config, server: this.globals.server };
    if (this.globals.token !== undefined) config = { ...config, token: this.globals.token };
    if (this.globals.insecureSkipTlsVerify === true) config = { ...config, insecureSkipTlsVerify: true };
    this.config = config;
    return config;
  }

  async client(): Promise<ApiClient> {
    if (this.apiClient !== undefined) return this.apiClient;
    const config = await this.clientConfig();
    this.apiClient = this.io.connect({
      ...config,
      userAgent: 'flotilla-cli',
      onWarning: (message) => this.io.stderr.write(`Warning: ${message}\n`),
    });
    return this.apiClient;
  }

  /** `-n`, else the kubeconfig context's namespace, else `default`. */
  async namespace(): Promise<string> {
    if (this.explicitNamespace !== undefined) return this.explicitNamespace;
    try {
      const config = await this.clientConfig();
      return config.namespace ?? 'default';
    } catch {
      return 'default';
    }
  }

  async close(): Promise<void> {
    const c = this.apiClient;
    this.apiClient = undefined;
    if (c !== undefined) await c.close();
  }
}
