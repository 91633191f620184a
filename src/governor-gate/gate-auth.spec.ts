import { describe, expect, it, vi } from 'vitest';
import type { AppConfig } from '../platform/config/index.js';
import { newToken, tokenEntry } from '../platform/auth/token-entries.js';
import { TokenRegistry } from '../platform/auth/token-registry.js';
import { GateAuth } from './gate-auth.js';

const service = newToken();
const viewer = newToken();
const config = {
  GATE_AUTH: 'optional',
  OPS_API_TOKENS: [tokenEntry('governor', 'service', service), tokenEntry('vic', 'viewer', viewer)],
} as unknown as AppConfig;

function setup() {
  const tokens = new TokenRegistry(config);
  const checks = vi.spyOn(tokens, 'authenticate');
  return { auth: new GateAuth(tokens, config), checks };
}

describe('GateAuth: a keep-alive connection that authenticated', () => {
  it('is not hashed again for the same header; another connection is', () => {
    const { auth, checks } = setup();
    const conn = {};
    for (let i = 0; i < 3; i++) expect(auth.caller(`Bearer ${service}`, conn).kind).toBe('authenticated');
    expect(checks).toHaveBeenCalledTimes(1);
    expect(auth.caller(`Bearer ${service}`, {}).kind).toBe('authenticated');
    expect(checks).toHaveBeenCalledTimes(2);
  });

  it('gets no favour for any other header: a wrong token, a longer one, none, a viewer', () => {
    const { auth } = setup();
    const conn = {};
    expect(auth.caller(`Bearer ${service}`, conn).kind).toBe('authenticated');
    const wrong = `Bearer ${service.slice(0, -1)}${service.endsWith('A') ? 'B' : 'A'}`;
    expect(auth.caller(wrong, conn)).toMatchObject({ kind: 'refused', refusal: { status: 401 } });
    expect(auth.caller(`Bearer ${service}x`, conn)).toMatchObject({
      kind: 'refused',
      refusal: { status: 401 },
    });
    // without a token the caller is anonymous (GATE_AUTH=optional), whatever came before on the connection
    expect(auth.caller(undefined, conn).kind).toBe('anonymous');
    expect(auth.caller(`Bearer ${viewer}`, conn)).toMatchObject({
      kind: 'refused',
      refusal: { status: 403 },
    });
    // and the good token still works after all that
    expect(auth.caller(`Bearer ${service}`, conn).kind).toBe('authenticated');
  });

  it('a refused header is never remembered', () => {
    const { auth, checks } = setup();
    const conn = {};
    for (let i = 0; i < 2; i++) auth.caller(`Bearer ${viewer}`, conn);
    for (let i = 0; i < 2; i++) auth.caller('Bearer nope', conn);
    expect(checks).toHaveBeenCalledTimes(4);
  });

  it('with GATE_AUTH=required, no header is 401 on a connection that authenticated before', () => {
    const strict = { ...config, GATE_AUTH: 'required' } as unknown as AppConfig;
    const auth = new GateAuth(new TokenRegistry(strict), strict);
    const conn = {};
    expect(auth.caller(`Bearer ${service}`, conn).kind).toBe('authenticated');
    expect(auth.caller(undefined, conn)).toMatchObject({ kind: 'refused', refusal: { status: 401 } });
  });
});
