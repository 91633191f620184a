import type { LoggerService, LogLevel } from '@nestjs/common';
import { pino, type Logger, type DestinationStream } from 'pino';
import { createLogDestination } from './log-destination.js';

/** Keys whose values never reach a log line, wherever they appear. */
const REDACT_PATHS = [
  'authorization',
  'token',
  'password',
  '*.authorization',
  '*.token',
  '*.password',
  'headers.authorization',
  '*.headers.authorization',
];

/** The service's logger: JSON lines to stdout through a bounded buffer (createLogDestination). */
export function createPino(level: string, destination: DestinationStream = createLogDestination()): Logger {
  return pino(
    {
      level,
      base: { service: 'p2.8-portfolio-risk-governor' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

type Fields = Record<string, unknown>;

/**
 * Nest LoggerService over pino: one JSON line per event. Services call
 * `logger.log({ msg, symbol, plan_id })` or `logger.warn('text')`; the Nest context becomes `context`.
 */
export class PinoLoggerService implements LoggerService {
  constructor(readonly pino: Logger) {}

  private write(
    level: 'info' | 'warn' | 'error' | 'debug' | 'trace' | 'fatal',
    message: unknown,
    rest: unknown[],
  ) {
    const args = [...rest];
    const context = typeof args[args.length - 1] === 'string' ? (args.pop() as string) : undefined;
    const fields: Fields = context ? { context } : {};
    if (level === 'error' && typeof args[0] === 'string' && args[0].includes('\n'))
      fields.stack = args.shift();
    if (message instanceof Error) {
      this.pino[level]({ ...fields, err: message }, message.message);
    } else if (message !== null && typeof message === 'object') {
      const { msg, ...obj } = message as Fields;
      this.pino[level]({ ...fields, ...obj }, typeof msg === 'string' ? msg : '');
    } else {
      this.pino[level](fields, String(message));
    }
  }

  log(message: unknown, ...rest: unknown[]) {
    this.write('info', message, rest);
  }
  error(message: unknown, ...rest: unknown[]) {
    this.write('error', message, rest);
  }
  warn(message: unknown, ...rest: unknown[]) {
    this.write('warn', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]) {
    this.write('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]) {
    this.write('trace', message, rest);
  }
  fatal(message: unknown, ...rest: unknown[]) {
    this.write('fatal', message, rest);
  }
  setLogLevels(levels: LogLevel[]) {
    const order: LogLevel[] = ['verbose', 'debug', 'log', 'warn', 'error', 'fatal'];
    const lowest = order.find((l) => levels.includes(l));
    const map: Record<string, string> = { verbose: 'trace', log: 'info' };
    if (lowest) this.pino.level = map[lowest] ?? lowest;
  }
}
