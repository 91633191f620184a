/**
 * The service's entry. It checks the Node version and reads .env before anything of Nest is
 * loaded: on a too-old Node, importing Nest (ES modules only) fails with ERR_REQUIRE_ESM, which
 * tells an operator nothing. Hence only these two dependency-free static imports.
 */
import { loadProcessDotEnv } from './platform/config/dot-env.js';
import { nodeVersionProblem } from './runtime-check.js';

const problem = nodeVersionProblem(process.versions.node);
if (problem) {
  process.stderr.write(`${problem}\n`);
  process.exit(1);
}

try {
  loadProcessDotEnv();
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
}

const { start } = await import('./server.js');
start();
