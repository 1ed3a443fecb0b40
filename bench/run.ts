// `npm run bench`: every benchmark in bench/ (today the control plane), with the arguments given.
import { main as controlPlane } from './control-plane.js';
import { runAsScript } from './lib/main.js';

runAsScript(import.meta.url, controlPlane);
