#!/usr/bin/env node
import { run } from './p28ctl.js';

// `p28ctl ledger | head` closes the pipe early: that is the reader's choice, not an error
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

const code = await run(process.argv.slice(2), {
  out: (t) => process.stdout.write(`${t}\n`),
  err: (t) => process.stderr.write(`${t}\n`),
  fetch: globalThis.fetch,
  // the CLI is a client of the service, not the service: its settings are P28_URL / P28_TOKEN
  // eslint-disable-next-line no-restricted-properties
  env: process.env,
  nowSec: () => Math.floor(Date.now() / 1000),
});
process.exitCode = code;
