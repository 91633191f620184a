import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../support/app.js';
import { startTestRedis, type TestRedis } from '../../support/redis-server.js';
import { CONTRACT_BUDGET_FIELDS, CONTRACT_LEDGER_FIELDS } from '../../support/contract.js';

/*
 * The OpenAPI document at /docs-json against CONTRACT.md §5. The expectations below are written from
 * the contract, never read back from the generated document: the project compiles without the
 * @nestjs/swagger CLI plugin, so a DTO field that loses its @ApiProperty silently disappears from the
 * docs, and these lists are what notices.
 */

type Schema = {
  $ref?: string;
  type?: string;
  enum?: unknown[];
  nullable?: boolean;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  allOf?: Schema[];
  description?: string;
};
type Operation = {
  summary?: string;
  tags?: string[];
  security?: Array<Record<string, string[]>>;
  parameters?: Array<{ name: string; in: string; required?: boolean; schema?: Schema }>;
  requestBody?: { content: Record<string, { schema: Schema }> };
  responses: Record<string, { description?: string; content?: Record<string, { schema: Schema }> }>;
};
type Doc = {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema>; securitySchemes?: Record<string, Record<string, unknown>> };
};

/** CONTRACT.md §5, as `METHOD path` (OpenAPI path syntax), with who may call it. */
const CONTRACT_ROUTES: Array<{ method: string; path: string; protected: boolean | 'optional' }> = [
  { method: 'get', path: '/health', protected: false },
  { method: 'get', path: '/health/live', protected: false },
  { method: 'get', path: '/health/ready', protected: false },
  { method: 'get', path: '/metrics', protected: false },
  { method: 'get', path: '/budgets', protected: true },
  { method: 'get', path: '/budgets/{symbol}', protected: true },
  { method: 'post', path: '/budgets/simulate', protected: true },
  // GATE_AUTH=optional by default: a token (service) gets the full answer, none a reduced one
  { method: 'post', path: '/governor/evaluate', protected: 'optional' },
  { method: 'get', path: '/ops/mode', protected: true },
  { method: 'get', path: '/ops/ledger', protected: true },
  { method: 'get', path: '/ops/ledger/verify', protected: true },
  { method: 'get', path: '/ops/shadow-report', protected: true },
  { method: 'put', path: '/ops/mode', protected: true },
  { method: 'post', path: '/ops/rollback', protected: true },
  { method: 'post', path: '/test/inject_portfolio_state', protected: true },
];

/** Contract §3 reason codes. */
const BLOCK_REASONS = ['p28_budget_violation', 'p28_projected_over_budget', 'p28_reduce_only_mode'];
const FAIL_OPEN_REASONS = [
  'no_budget',
  'stale_budget',
  'redis_unavailable',
  'timeout',
  'shadow_mode',
  'no_price',
];

const TAGS = ['health', 'budgets', 'governor', 'ops', 'test'];

const HTTP_METHODS = new Set(['get', 'put', 'post', 'delete', 'patch', 'head', 'options']);

describe('OpenAPI at /docs describes the real API', () => {
  let redis: TestRedis;
  let t: TestApp;
  let doc: Doc;

  beforeAll(async () => {
    redis = await startTestRedis();
    t = await createTestApp({
      REDIS_URL: redis.url,
      P28_MODE: 'shadow',
      P28_TEST_MODE: '1',
      // a configured registry, so an unauthenticated call to a protected route is a 401, not a config refusal
      OPS_API_TOKENS: `viewer1:viewer:${'ab'.repeat(32)}`,
    });
    doc = (await request(t.http).get('/docs-json').expect(200)).body as Doc;
  });
  afterAll(async () => {
    await t?.close();
    await redis?.close();
  });

  const op = (method: string, path: string): Operation => {
    const o = doc.paths[path]?.[method];
    if (!o) throw new Error(`${method.toUpperCase()} ${path} is not in the OpenAPI document`);
    return o;
  };
  const resolve = (s: Schema): Schema => {
    if (s.$ref) {
      const name = s.$ref.replace('#/components/schemas/', '');
      const target = doc.components.schemas[name];
      if (!target) throw new Error(`dangling $ref ${s.$ref}`);
      return resolve(target);
    }
    if (s.allOf?.length === 1) return resolve(s.allOf[0]);
    return s;
  };
  const bodySchema = (method: string, path: string): Schema => {
    const content = op(method, path).requestBody?.content['application/json'];
    if (!content) throw new Error(`${method.toUpperCase()} ${path} documents no JSON body`);
    return resolve(content.schema);
  };
  const okSchema = (method: string, path: string): Schema => {
    const ok = op(method, path).responses['200'];
    const content = ok?.content?.['application/json'];
    if (!content) throw new Error(`${method.toUpperCase()} ${path} documents no JSON 200 response`);
    return resolve(content.schema);
  };
  /** Asserts the fields exist, each typed (type, enum or $ref), and (when given) exactly `required` are required. */
  const expectFields = (s: Schema, fields: string[], required?: string[]) => {
    const props = s.properties ?? {};
    for (const f of fields) {
      expect(props[f], `field ${f}`).toBeDefined();
      const p = props[f];
      expect(
        p.type !== undefined || p.enum !== undefined || p.$ref !== undefined || p.allOf !== undefined,
        `${f} typed`,
      ).toBe(true);
    }
    if (required) expect([...(s.required ?? [])].sort()).toEqual([...required].sort());
  };

  it('lists every CONTRACT.md §5 route with its method, each with a summary and a tag', () => {
    for (const r of CONTRACT_ROUTES) {
      const o = op(r.method, r.path);
      expect(o.summary, `${r.method} ${r.path} summary`).toBeTruthy();
      expect(o.tags?.length, `${r.method} ${r.path} tags`).toBeGreaterThan(0);
      // a controller without @ApiTags would show up under an auto tag named after its class
      for (const tag of o.tags ?? []) expect(TAGS, `${r.method} ${r.path} tag ${tag}`).toContain(tag);
    }
  });

  it('declares the bearer scheme; protected routes require it, open ones do not', () => {
    expect(doc.components.securitySchemes?.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    for (const r of CONTRACT_ROUTES) {
      const o = op(r.method, r.path);
      const where = `${r.method.toUpperCase()} ${r.path}`;
      if (r.protected === 'optional') {
        expect(o.security, where).toEqual([{}, { bearer: [] }]);
        expect(o.responses['401'], `${where} 401`).toBeDefined();
      } else if (r.protected) {
        expect(o.security, where).toEqual([{ bearer: [] }]);
        expect(o.responses['401'], `${where} 401`).toBeDefined();
        // a service token (gate only) gets 403 on every protected route, viewer ones included
        expect(o.responses['403'], `${where} 403`).toBeDefined();
      } else {
        expect(o.security ?? [], where).toEqual([]);
        expect(o.responses['401'], `${where} 401`).toBeUndefined();
      }
    }
    // operator routes also document the 403 of a viewer token
    for (const [m, p] of [
      ['put', '/ops/mode'],
      ['post', '/ops/rollback'],
      ['post', '/test/inject_portfolio_state'],
    ]) {
      expect(op(m, p).responses['403'], `${m} ${p} 403`).toBeDefined();
    }
  });

  it('documents auth exactly where the AuthGuard enforces it (every route, asked without a token)', async () => {
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const method of Object.keys(methods).filter((m) => HTTP_METHODS.has(m))) {
        const url = path.replace('{symbol}', 'BTCUSDT');
        const res = await request(t.http)
          [method as 'get']('' + url)
          .set('content-type', 'application/json')
          .send(method === 'get' ? undefined : '{}');
        // `{}` among the alternatives: a token is optional (the gate with GATE_AUTH=optional)
        const security = methods[method].security ?? [];
        const documented =
          security.some((s) => 'bearer' in s) && !security.some((s) => Object.keys(s).length === 0);
        expect(res.status === 401, `${method.toUpperCase()} ${path} answered ${res.status}`).toBe(documented);
      }
    }
  });

  it('PUT /ops/mode body lists the contract fields with their rules', () => {
    const s = bodySchema('put', '/ops/mode');
    expectFields(s, ['mode', 'reason', 'expected_version', 'symbol', 'expires_in_sec'], ['mode', 'reason']);
    const p = s.properties!;
    expect([...(p.mode.enum ?? [])].sort()).toEqual(['enforce', 'reduce_only', 'shadow']);
    expect(p.mode.nullable).toBe(true);
    expect(p.reason).toMatchObject({ type: 'string', minLength: 3, maxLength: 500 });
    expect(p.expected_version.type).toBe('integer');
    expect(p.symbol.type).toBe('string');
    expect(p.expires_in_sec).toMatchObject({ type: 'integer', minimum: 1 });
  });

  it('POST /ops/rollback body is the reason alone', () => {
    const s = bodySchema('post', '/ops/rollback');
    expectFields(s, ['reason'], ['reason']);
    expect(Object.keys(s.properties!)).toEqual(['reason']);
    expect(s.properties!.reason).toMatchObject({ type: 'string', minLength: 3, maxLength: 500 });
  });

  it('PUT /ops/mode and POST /ops/rollback answer {mode, version, operation_id, expires_at?}, 409 documented', () => {
    for (const [m, p] of [
      ['put', '/ops/mode'],
      ['post', '/ops/rollback'],
    ]) {
      const s = okSchema(m, p);
      expectFields(s, ['mode', 'version', 'operation_id', 'expires_at'], ['mode', 'version', 'operation_id']);
      expect(op(m, p).responses['400'], `${p} 400`).toBeDefined();
      expect(op(m, p).responses['413'], `${p} 413`).toBeDefined();
    }
    expect(op('put', '/ops/mode').responses['409']?.description).toMatch(/stale/);
  });

  it('GET /ops/mode answers {mode, version, changed_at, changed_by, expires_at?, overrides}', () => {
    const s = okSchema('get', '/ops/mode');
    expectFields(
      s,
      ['mode', 'version', 'changed_at', 'changed_by', 'expires_at', 'overrides'],
      ['mode', 'version', 'changed_at', 'changed_by', 'overrides'],
    );
    expect(s.properties!.overrides.type).toBe('object');
  });

  it('GET /ops/ledger documents limit/before query params and the CONTRACT.md §4 entry', () => {
    const params = op('get', '/ops/ledger').parameters ?? [];
    const limit = params.find((p) => p.name === 'limit');
    const before = params.find((p) => p.name === 'before');
    expect(limit).toMatchObject({
      in: 'query',
      required: false,
      schema: { type: 'integer', minimum: 1, maximum: 1000 },
    });
    expect(before).toMatchObject({ in: 'query', required: false, schema: { type: 'string' } });

    const page = okSchema('get', '/ops/ledger');
    expect(page.properties?.entries?.type).toBe('array');
    const entry = resolve(page.properties!.entries.items!);
    const fields = [...CONTRACT_LEDGER_FIELDS];
    expectFields(
      entry,
      fields,
      fields.filter((f) => f !== 'rollback_of'),
    );
  });

  it('GET /ops/shadow-report documents `since` as a query param and the report shape', () => {
    const since = (op('get', '/ops/shadow-report').parameters ?? []).find((p) => p.name === 'since');
    expect(since).toMatchObject({ in: 'query', required: false, schema: { type: 'number', minimum: 0 } });
    expectFields(
      okSchema('get', '/ops/shadow-report'),
      ['since', 'totals', 'symbols', 'oldest_age_sec', 'truncated'],
      ['since', 'totals', 'symbols', 'oldest_age_sec', 'truncated'],
    );
  });

  it('POST /governor/evaluate documents the plan body, though a Fastify route with a hand-written check serves it', () => {
    const s = bodySchema('post', '/governor/evaluate');
    expectFields(
      s,
      ['plan_id', 'symbol', 'side', 'qty', 'projected_notional', 'reduce_only'],
      ['plan_id', 'symbol'],
    );
    const p = s.properties!;
    expect(p.plan_id.type).toBe('string');
    expect(p.symbol.type).toBe('string');
    expect([...(p.side.enum ?? [])].sort()).toEqual(['BUY', 'SELL']);
    expect(p.qty.type).toBe('number');
    expect(p.projected_notional.type).toBe('number');
    expect(p.reduce_only.type).toBe('boolean');
    expect(op('post', '/governor/evaluate').responses['400']).toBeDefined();
  });

  it('POST /governor/evaluate answers the CONTRACT.md §3 decision with its reason codes', () => {
    const s = okSchema('post', '/governor/evaluate');
    expectFields(
      s,
      ['decision', 'reason', 'mode', 'enforced', 'budget_usd', 'position_notional', 'fail_open'],
      ['decision', 'reason', 'mode', 'enforced'],
    );
    const p = s.properties!;
    expect([...(p.decision.enum ?? [])].sort()).toEqual(['ALLOW', 'BLOCK']);
    expect(p.reason.enum).toEqual(expect.arrayContaining([...BLOCK_REASONS, ...FAIL_OPEN_REASONS]));
    expect([...(p.fail_open.enum ?? [])].sort()).toEqual([...FAIL_OPEN_REASONS].sort());
    expect([...(p.mode.enum ?? [])].sort()).toEqual(['enforce', 'reduce_only', 'shadow']);
    expect(p.enforced.type).toBe('boolean');
  });

  it('POST /budgets/simulate body lists the §2 inputs; budgets answer the §2 hash', () => {
    const body = bodySchema('post', '/budgets/simulate');
    expectFields(
      body,
      ['equity_usd', 'heat', 'cluster_stress', 'vol_regime', 'position_notional'],
      ['equity_usd'],
    );
    for (const f of ['cluster_stress', 'vol_regime']) {
      expect(body.properties![f], f).toMatchObject({ type: 'number', minimum: 0, maximum: 1 });
    }
    // heat is not clamped (docs/contract.md §1)
    expect(body.properties!.heat).toMatchObject({ type: 'number', minimum: 0, maximum: 1000 });
    expectFields(okSchema('post', '/budgets/simulate'), ['stress_factor', 'budget_usd']);

    const hashFields = [...CONTRACT_BUDGET_FIELDS];
    const always = hashFields.filter((f) => f !== 'price'); // price only when one is known
    expectFields(okSchema('get', '/budgets/{symbol}'), hashFields, always);
    const list = okSchema('get', '/budgets');
    expect(list.properties?.budgets?.type).toBe('array');
    expectFields(resolve(list.properties!.budgets.items!), hashFields, always);
    expect(op('get', '/budgets/{symbol}').responses['404']).toBeDefined();
    expect(op('post', '/budgets/simulate').responses['413']).toBeDefined();
  });

  it('POST /test/inject_portfolio_state documents equity_usd and drawdown in the query and the body', () => {
    const params = op('post', '/test/inject_portfolio_state').parameters ?? [];
    expect(
      params
        .filter((p) => p.in === 'query')
        .map((p) => p.name)
        .sort(),
    ).toEqual(['drawdown', 'equity_usd']);
    expectFields(bodySchema('post', '/test/inject_portfolio_state'), ['equity_usd', 'drawdown'], []);
  });

  it('documents /metrics as text/plain and the health 503s', () => {
    expect(Object.keys(op('get', '/metrics').responses['200'].content ?? {})).toEqual(['text/plain']);
    for (const p of ['/health', '/health/ready']) expect(op('get', p).responses['503'], p).toBeDefined();
    expectFields(okSchema('get', '/health'), ['status', 'service', 'mode', 'redis']);
  });

  it('serves the Swagger UI at /docs', async () => {
    const res = await request(t.http).get('/docs');
    if (res.status >= 300 && res.status < 400) {
      expect(res.headers.location).toMatch(/docs/);
      const ui = await request(t.http).get(new URL(res.headers.location as string, 'http://x/docs').pathname);
      expect(ui.status).toBe(200);
      expect(ui.text).toMatch(/swagger-ui/i);
    } else {
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/text\/html/);
      expect(res.text).toMatch(/swagger-ui/i);
    }
  });
});
