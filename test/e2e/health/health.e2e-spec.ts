import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, waitFor, type TestApp } from '../../support/app.js';
import { startTestRedis, type TestRedis } from '../../support/redis-server.js';

describe('health and metrics against a real Redis', () => {
  let redis: TestRedis;
  let t: TestApp;

  beforeAll(async () => {
    redis = await startTestRedis();
    t = await createTestApp({ REDIS_URL: redis.url, P28_MODE: 'shadow' });
  });
  afterAll(async () => {
    await t?.close();
    await redis?.close();
  });

  it('GET /health is healthy with the contract body while Redis is up', async () => {
    const res = await request(t.http).get('/health').expect(200);
    expect(res.body).toMatchObject({
      status: 'healthy',
      service: 'p2.8-portfolio-risk-governor',
      mode: 'shadow',
      redis: 'connected',
    });
  });

  it('GET /health/live and /health/ready answer ok through Terminus', async () => {
    const live = await request(t.http).get('/health/live').expect(200);
    expect(live.body.status).toBe('ok');
    const ready = await request(t.http).get('/health/ready').expect(200);
    expect(ready.body.info.redis.status).toBe('up');
  });

  it('GET /metrics exposes p28_enforce_mode (0 in shadow) and the process defaults', async () => {
    const res = await request(t.http).get('/metrics').expect(200);
    expect(res.headers['content-type']).toMatch(/text\/plain/);
    expect(res.text).toMatch(/^p28_enforce_mode 0$/m);
    expect(res.text).toMatch(/^process_cpu_user_seconds_total /m);
  });

  it('answers 503 naming redis when its Redis is stopped, and 200 again once it is back', async () => {
    if (!redis.controllable) return; // an external REDIS_URL cannot be stopped by the suite
    await redis.stop();
    const down = await request(t.http).get('/health').expect(503);
    expect(down.body).toMatchObject({ status: 'unhealthy', redis: 'disconnected', failing: ['redis'] });
    // the open endpoint names the part, never the raw Redis error text
    expect(down.body).not.toHaveProperty('redis_error');
    expect(JSON.stringify(down.body)).not.toMatch(
      /ECONNREFUSED|127\.0\.0\.1|timed out|Connection is closed/i,
    );
    const ready = await request(t.http).get('/health/ready').expect(503);
    expect(ready.body.error.redis.status).toBe('down');
    // the process is still serving while Redis is away
    await request(t.http).get('/health/live').expect(200);

    await redis.start();
    await waitFor(async () => (await request(t.http).get('/health')).status === 200, {
      timeoutMs: 8000,
      what: '/health to recover',
    });
  });

  it('a second app in the same process builds and serves its own metrics', async () => {
    // its own database: the first app has already seeded the shared mode in db 0
    const second = await createTestApp({ REDIS_URL: redis.url.replace(/\/0$/, '/1'), P28_MODE: 'enforce' });
    try {
      const res = await request(second.http).get('/metrics').expect(200);
      expect(res.text).toMatch(/^p28_enforce_mode 1$/m);
      const first = await request(t.http).get('/metrics').expect(200);
      expect(first.text).toMatch(/^p28_enforce_mode 0$/m);
    } finally {
      await second.close();
    }
  });

  it('serves OpenAPI at /docs with the bearer auth scheme', async () => {
    const res = await request(t.http).get('/docs-json').expect(200);
    expect(res.body.openapi).toMatch(/^3\./);
    expect(res.body.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(Object.keys(res.body.paths)).toContain('/health');
    await request(t.http)
      .get('/docs')
      .expect((r) => expect([200, 301, 302]).toContain(r.status));
  });

  it('answers 413 for a body over 1 MB', async () => {
    const big = JSON.stringify({ x: 'a'.repeat(1024 * 1024 + 10) });
    const res = await request(t.http).post('/health').set('content-type', 'application/json').send(big);
    expect(res.status).toBe(413);
  });
});
