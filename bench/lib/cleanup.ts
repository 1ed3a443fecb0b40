// Clean-up on interruption: a benchmark stopped by SIGINT/SIGTERM/SIGHUP still stops the servers, etcd and
// dockerd it started and removes its temp dirs, then exits with 128 + the signal number.

type Task = () => Promise<unknown>;

const tasks = new Set<Task>();
let installed = false;
const signals = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const;

function install(): void {
  if (installed) return;
  installed = true;
  let cleaning = false;
  for (const [signal, num] of Object.entries(signals)) {
    // `on`, not `once`: other handlers (the etcd testkit's) re-raise the signal when none is left listening,
    // which would end the process before our asynchronous clean-up finishes. A second signal ends it at once.
    process.on(signal, () => {
      if (cleaning) process.exit(128 + num);
      cleaning = true;
      process.stderr.write(`\n${signal}: cleaning up ${tasks.size} resource(s)\n`);
      const pending = [...tasks].map((t) => t().catch(() => undefined));
      tasks.clear();
      void Promise.allSettled(pending).then(() => process.exit(128 + num));
    });
  }
}

/** Run `task` if the process is interrupted before the returned function is called. */
export function onInterrupt(task: Task): () => void {
  install();
  tasks.add(task);
  return () => {
    tasks.delete(task);
  };
}
