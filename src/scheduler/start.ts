// Start the scheduler as the server does: its own API client (HTTPS, the admin token), a logger
// writing warnings and errors to the server's log, and the profile from the server flags.
import { ApiClient } from '../api/client/client.js';
import type { Logger } from '../machinery/logger.js';
import type { SchedulerProfile } from './core.js';
import { Scheduler, type SchedulerOptions } from './scheduler.js';

export interface StartSchedulerOptions {
  url: string;
  /** Connect over the API server's local socket instead of `url` (the scheduler inside the server). */
  localSocket?: string;
  /** Informers to share (the controller manager's, in the same process) instead of the scheduler's own. */
  informers?: SchedulerOptions['informers'];
  caPem: string | undefined;
  token: string;
  profile: SchedulerProfile;
  log: (line: string) => void;
}

export interface RunningScheduler {
  scheduler: Scheduler;
  /** Resolves once the informers have listed and the loop runs (rejects only if they never can). */
  ready: Promise<void>;
  stop(): Promise<void>;
}

function lineLogger(log: (line: string) => void): Logger {
  const fmt = (level: string, msg: string, fields?: Record<string, unknown>): string =>
    `${level} ${msg}${fields === undefined || Object.keys(fields).length === 0 ? '' : ` ${JSON.stringify(fields)}`}`;
  return {
    debug: () => undefined,
    info: (m, f) => log(fmt('info', m, f)),
    warn: (m, f) => log(fmt('warn', m, f)),
    error: (m, f) => log(fmt('error', m, f)),
  };
}

/** Start the scheduler in the background; does not wait for the first list. */
export function startScheduler(opts: StartSchedulerOptions): RunningScheduler {
  const client = new ApiClient({
    server: opts.url,
    ...(opts.caPem === undefined ? {} : { caPem: opts.caPem }),
    token: opts.token,
    ...(opts.localSocket === undefined ? {} : { socketPath: opts.localSocket }),
    userAgent: 'flotilla-scheduler',
  });
  const logger = lineLogger(opts.log);
  const scheduler = new Scheduler({
    client,
    profile: opts.profile,
    logger,
    ...(opts.informers === undefined ? {} : { informers: opts.informers }),
  });
  const ready = scheduler.start();
  ready.catch((err: unknown) => opts.log(`scheduler: could not start: ${(err as Error).message}`));
  let stopped: Promise<void> | undefined;
  return {
    scheduler,
    ready,
    stop: () => {
      stopped ??= (async () => {
        await scheduler.stop();
        await client.close();
      })();
      return stopped;
    },
  };
}
