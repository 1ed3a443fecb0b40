// Command-line options shared by the benchmarks that run Flotilla on a real node beside a Docker Swarm peer.

export interface PeerBenchOptions {
  replicas: number;
  dockerd: string | undefined;
  peer: boolean;
  json: string | undefined;
  /** Print when the first, middle and last pod was created, bound, running and ready. */
  timeline: boolean;
}

/** `--replicas N` (default `defaultReplicas`), `--dockerd PATH`, `--no-peer`, `--json FILE`, `--timeline`; throws with `usage`. */
export function parsePeerBenchArgs(args: string[], usage: string, defaultReplicas = 100): PeerBenchOptions {
  const o: PeerBenchOptions = {
    replicas: defaultReplicas,
    dockerd: undefined,
    peer: true,
    json: undefined,
    timeline: false,
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = (): string => {
      const v = args[++i];
      if (v === undefined) throw new Error(`${a} needs a value; ${usage}`);
      return v;
    };
    if (a === '--replicas') o.replicas = Number(value());
    else if (a === '--dockerd') o.dockerd = value();
    else if (a === '--no-peer') o.peer = false;
    else if (a === '--json') o.json = value();
    else if (a === '--timeline') o.timeline = true;
    else throw new Error(`unknown argument ${a}; ${usage}`);
  }
  if (!Number.isInteger(o.replicas) || o.replicas < 1)
    throw new Error(`--replicas must be a positive whole number`);
  return o;
}
