// Prometheus metrics, one registry per API server or agent (never prom-client's global one: tests run
// several servers and agents in one process, and each must show only its own figures).
//
// Process metrics (CPU, memory, heap, event-loop lag, GC, open fds) describe the Node process, not one
// server, and prom-client starts observers for them that are never stopped; so they are collected once
// per process into a registry of their own, and every endpoint shows them beside its own metrics.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

let processRegistry: Registry | undefined;

function processMetrics(): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export interface MetricsRegistryOptions {
  /** Show the process metrics (`process_*`, `nodejs_*`) too. Default true. */
  processMetrics?: boolean;
}

/** The metrics one server or agent serves on `GET /metrics`. */
export class MetricsRegistry {
  /** prom-client's registry; only src/machinery/prom touches it. */
  readonly registry = new Registry();
  private readonly withProcess: boolean;

  constructor(options: MetricsRegistryOptions = {}) {
    this.withProcess = options.processMetrics ?? true;
  }

  /** The Content-Type of `text()`: the Prometheus text format 0.0.4. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Every metric in the Prometheus text exposition format. */
  async text(): Promise<string> {
    if (!this.withProcess) return this.registry.metrics();
    return Registry.merge([this.registry, processMetrics()]).metrics();
  }
}

/** A new, empty registry for one API server or agent (with the process metrics unless turned off). */
export function newMetricsRegistry(options: MetricsRegistryOptions = {}): MetricsRegistry {
  return new MetricsRegistry(options);
}

// Get-or-create: a recorder made twice on one registry shares the metric instead of failing on the name.

export function counter<L extends string>(
  reg: MetricsRegistry,
  name: string,
  help: string,
  labelNames: readonly L[] = [],
): Counter<L> {
  const existing = reg.registry.getSingleMetric(name);
  if (existing instanceof Counter) return existing;
  return new Counter<L>({ name, help, labelNames, registers: [reg.registry] });
}

export function gauge<L extends string>(
  reg: MetricsRegistry,
  name: string,
  help: string,
  labelNames: readonly L[] = [],
  collect?: (g: Gauge<L>) => void,
): Gauge<L> {
  const existing = reg.registry.getSingleMetric(name);
  if (existing instanceof Gauge) return existing;
  return new Gauge<L>({
    name,
    help,
    labelNames,
    registers: [reg.registry],
    ...(collect === undefined
      ? {}
      : {
          collect(this: Gauge<L>) {
            collect(this);
          },
        }),
  });
}

export function histogram<L extends string>(
  reg: MetricsRegistry,
  name: string,
  help: string,
  labelNames: readonly L[],
  buckets: number[],
): Histogram<L> {
  const existing = reg.registry.getSingleMetric(name);
  if (existing instanceof Histogram) return existing;
  return new Histogram<L>({ name, help, labelNames, buckets, registers: [reg.registry] });
}
