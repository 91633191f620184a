import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './redis-server.js';
import { spawnTied } from '../../scripts/tied-process.js';

const ROOT = resolve(import.meta.dirname, '../..');
const run = promisify(execFile);

export interface Built {
  /** the build's output folder (what `npm run build` writes to dist/) */
  dir: string;
  remove(): void;
}

/**
 * Builds the project as `npm run build` does, into a private folder inside the project (so the
 * output resolves node_modules like dist/ does), without touching a dist/ someone is running.
 */
export async function buildProject(): Promise<Built> {
  const dir = resolve(ROOT, '.test-build', randomUUID());
  await run(
    process.execPath,
    [resolve(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', dir],
    {
      cwd: ROOT,
    },
  );
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface BuiltService {
  url: string;
  lines: string[];
  stop(): Promise<void>;
}

/** The built service (`node <dir>/main.js`) on a free loopback port. */
export async function startBuiltService(built: Built, env: Record<string, string>): Promise<BuiltService> {
  const port = await freePort();
  const lines: string[] = [];
  // tied: the service dies with this process, even on SIGKILL
  const proc = await spawnTied(process.execPath, [resolve(built.dir, 'main.js')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, LOG_LEVEL: 'warn', ...env, PORT: String(port), HOST: '127.0.0.1' },
    onOutput: (chunk) => lines.push(...chunk.split('\n').filter(Boolean)),
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (!proc.running()) throw new Error(`service exited early:\n${lines.join('\n')}`);
    try {
      if ((await fetch(`${url}/health/live`)).ok) break;
    } catch {
      /* starting */
    }
    if (Date.now() > deadline) {
      await proc.stop();
      throw new Error(`service did not start:\n${lines.join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    lines,
    async stop() {
      proc.signal('SIGTERM');
      await proc.exited;
    },
  };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built p28ctl with only the environment given (plus PATH). */
export async function runCli(
  built: Built,
  args: string[],
  env: Record<string, string> = {},
): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, [resolve(built.dir, 'cli/main.js'), ...args], {
      env: { PATH: process.env.PATH, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}
