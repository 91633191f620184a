import 'reflect-metadata';
import { Writable } from 'node:stream';
import { Test } from '@nestjs/testing';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule } from '../../src/app.module.js';
import { configureApp, createAdapter, NEST_APP_OPTIONS } from '../../src/platform/http/app.setup.js';
import { Clock } from '../../src/platform/clock/clock.js';
import { AppConfig, loadConfig } from '../../src/platform/config/index.js';
import { createPino, PinoLoggerService } from '../../src/platform/logging/pino-logger.js';

export interface TestApp {
  app: NestFastifyApplication;
  config: AppConfig;
  /** Every log line the app wrote, parsed. */
  logs: Array<Record<string, unknown>>;
  /** The raw log text, for "never logs X" checks. */
  rawLogs(): string;
  http: ReturnType<NestFastifyApplication['getHttpServer']>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  clock?: Clock;
  /** Listen on a real port (needed when another process must reach the app). */
  listen?: boolean;
  /** Leave the ledger unsigned (signing with a shared test key pair is the default). */
  unsigned?: boolean;
}

export { makeTestKeyPair, sharedTestKeyPair, type TestKeyPair } from './key-pairs.js';
import { sharedTestKeyPair } from './key-pairs.js';

/** The env that signs the ledger with the shared key, unless the caller set the variables. */
function signingEnv(env: Record<string, string>, opts: TestAppOptions): Record<string, string> {
  if (opts.unsigned || 'LEDGER_SIGNING_KEY_FILE' in env || 'LEDGER_TRUSTED_KEYS_FILE' in env) return {};
  const k = sharedTestKeyPair();
  return { LEDGER_SIGNING_KEY_FILE: k.privateKeyFile, LEDGER_TRUSTED_KEYS_FILE: k.trustedKeysFile };
}

/** Boots the real AppModule, configured like main.ts, against the env given (validated as at boot). */
export async function createTestApp(
  env: Record<string, string>,
  opts: TestAppOptions = {},
): Promise<TestApp> {
  const config = loadConfig({ LOG_LEVEL: 'info', ...signingEnv(env, opts), ...env });
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  const logger = new PinoLoggerService(createPino(config.LOG_LEVEL, sink));

  let builder = Test.createTestingModule({ imports: [AppModule] })
    .overrideProvider(AppConfig)
    .useValue(config);
  if (opts.clock) builder = builder.overrideProvider(Clock).useValue(opts.clock);
  const moduleRef = await builder.compile();
  const app = moduleRef.createNestApplication<NestFastifyApplication>(createAdapter(), {
    ...NEST_APP_OPTIONS,
    logger,
  });
  configureApp(app);
  if (opts.listen) await app.listen(0, '127.0.0.1');
  else await app.init();
  await app.getHttpAdapter().getInstance().ready();
  let closed = false;
  return {
    app,
    config,
    get logs() {
      return lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    },
    rawLogs: () => lines.join('\n'),
    http: app.getHttpServer(),
    close: async () => {
      if (closed) return;
      closed = true;
      await app.close();
    },
  };
}

export async function waitFor<T>(
  fn: () => Promise<T> | T,
  { timeoutMs = 5000, intervalMs = 25, what = 'condition' } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
