import { resolve } from 'node:path';
import { freePort } from './redis-server.js';
import { spawnTied } from '../../scripts/tied-process.js';

const ROOT = resolve(import.meta.dirname, '../..');

export interface ProcessApp {
  /** The service's own pid (it runs under a wrapper that kills it should the test process die). */
  pid: number;
  url: string;
  port: number;
  lines: string[];
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  metric(name: string, labels?: string): Promise<number | undefined>;
  kill(signal?: NodeJS.Signals): void;
}

/** The real service as its own process (src/main.ts through swc), for kill -9 / SIGTERM tests. */
export async function startProcessApp(env: Record<string, string>): Promise<ProcessApp> {
  const port = await freePort();
  const lines: string[] = [];
  // tied: the service dies with this process, even on SIGKILL
  const proc = await spawnTied(
    process.execPath,
    ['--import', '@swc-node/register/esm-register', 'src/main.ts'],
    {
      cwd: ROOT,
      env: { PATH: process.env.PATH, LOG_LEVEL: 'info', ...env, PORT: String(port) },
      onOutput: (chunk) => lines.push(...chunk.split('\n').filter(Boolean)),
    },
  );
  const exited = proc.exited.then((e) => e.code);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (!proc.running()) throw new Error(`service exited early:\n${lines.join('\n')}`);
    try {
      const r = await fetch(`${url}/health/live`);
      if (r.ok) break;
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
    pid: proc.pid,
    url,
    port,
    lines,
    exited,
    async metric(name, labels) {
      try {
        const text = await (await fetch(`${url}/metrics`)).text();
        const line = text
          .split('\n')
          .find(
            (l) =>
              l.startsWith(labels ? `${name}{${labels}}` : `${name} `) ||
              (labels === undefined && l.startsWith(`${name}{`)),
          );
        return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : undefined;
      } catch {
        return undefined;
      }
    },
    kill(signal = 'SIGTERM') {
      proc.signal(signal);
    },
  };
}
