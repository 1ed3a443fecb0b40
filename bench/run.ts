// `npm run bench`: every benchmark in bench/ (today the control plane), with the arguments given.
import { main as controlPlane } from './control-plane.js';

controlPlane(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(
      `benchmark failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exitCode = 1;
  },
);
