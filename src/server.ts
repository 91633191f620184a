import { SHUTDOWN_KILL_MS } from './platform/clock/bounded.js';
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule } from './app.module.js';
import { configureApp, createAdapter, NEST_APP_OPTIONS } from './platform/http/app.setup.js';
import { AppConfig, ConfigError, readEnvConfig } from './platform/config/index.js';
import { createPino, PinoLoggerService } from './platform/logging/pino-logger.js';
import { ModeReader } from './platform/mode/mode-reader.js';

async function bootstrap() {
  let config: AppConfig;
  try {
    config = readEnvConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const logger = new PinoLoggerService(createPino(config.LOG_LEVEL));
  const app = await NestFactory.create<NestFastifyApplication>(AppModule, createAdapter(), {
    ...NEST_APP_OPTIONS,
    logger,
    bufferLogs: true,
  });
  configureApp(app);
  // exit 0 after a clean close (Nest would otherwise re-raise the signal and exit 143)
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      logger.log({ msg: `${signal} received: shutting down`, signal });
      // a shutdown that hangs must not outlive the orchestrator's patience
      setTimeout(() => {
        logger.error({ msg: `shutdown did not finish within ${SHUTDOWN_KILL_MS / 1000} s; exiting` });
        process.exit(1);
      }, SHUTDOWN_KILL_MS).unref();
    });
  }
  await app.listen(config.PORT, config.HOST);
  const mode = app.get(ModeReader).current().mode;
  logger.log({
    msg: `P2.8 Portfolio Risk Governor started (mode=${mode}, host=${config.HOST}, port=${config.PORT})`,
    mode,
    host: config.HOST,
    port: config.PORT,
  });
}

/** Loaded by main.ts once the Node version is known to be supported and .env is read. */
export function start(): void {
  bootstrap().catch((err) => {
    process.stderr.write(`fatal: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
