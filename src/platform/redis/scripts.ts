import type { RedisClient } from './redis.factory.js';

/** A Lua script with the command name it is registered under on each client. */
export interface LuaScript {
  readonly name: string;
  readonly lua: string;
}

type Commands = Record<string, ((...args: Array<string | number>) => Promise<unknown>) | undefined>;

/**
 * Runs `script` by EVALSHA: ioredis (defineCommand) sends the body only the first time on a
 * connection and again after a NOSCRIPT, which means the script never ran, so a resend cannot apply
 * anything twice. The first argument is the key count, as for EVAL.
 */
export function runScript<T>(
  client: RedisClient,
  script: LuaScript,
  numberOfKeys: number,
  ...keysAndArgs: Array<string | number>
): Promise<T> {
  const commands = client as unknown as Commands;
  if (typeof commands[script.name] !== 'function') client.defineCommand(script.name, { lua: script.lua });
  return (commands[script.name] as (...a: Array<string | number>) => Promise<T>)(
    numberOfKeys,
    ...keysAndArgs,
  );
}
