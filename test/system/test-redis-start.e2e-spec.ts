import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnTied, type TiedProcess } from '../../scripts/tied-process.js';
import { waitFor } from '../support/app.js';
import { startTestRedis, type TestRedis } from '../support/redis-server.js';

// A test that restarts its redis-server on the same port must get its own server back, or an
// error: a foreign server answering the ping would make freeze() and stop() silently miss.
describe('startTestRedis: start() again on the same port', () => {
  let redis: TestRedis;
  let foreign: TiedProcess | undefined;
  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterAll(async () => {
    await foreign?.stop();
    await redis?.close();
  });

  it('refuses while its own server runs', async () => {
    if (!redis.controllable) return; // REDIS_URL: not ours to restart
    await expect(redis.start()).rejects.toThrow(/already running/);
    expect(await redis.client().ping()).toBe('PONG');
  });

  it('fails naming the port when another server took it in between', async () => {
    if (!redis.controllable) return;
    await redis.stop();
    foreign = await spawnTied('redis-server', [
      '--port',
      String(redis.port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
    ]);
    // the other server must hold the port before ours tries
    const c = redis.client();
    await waitFor(async () => (await c.ping().catch(() => '')) === 'PONG', {
      timeoutMs: 5000,
      what: 'the other server answers',
    });
    await expect(redis.start()).rejects.toThrow(new RegExp(`port ${redis.port} is held by another`));
  });
});
