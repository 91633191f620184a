import { timingSafeEqual } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { AppConfig, type GateAuth as GateAuthMode } from '../platform/config/index.js';
import { checkBearer, type BearerCheck } from '../platform/auth/bearer.js';
import { TokenRegistry } from '../platform/auth/token-registry.js';
import { errorBody, type ErrorBody } from '../platform/http/error-body.js';

/** Roles whose tokens the gate accepts (docs/contract.md §3 Gate 0): the governor's service token, and operators. */
const GATE_ROLES = new Set(['service', 'operator']);

interface GateRefusal {
  status: 401 | 403;
  body: ErrorBody<string> & { required_role: 'service' };
  /** why, for the (rate-limited) log line: never the token */
  problem: 'missing' | 'malformed' | 'unknown' | 'role';
}

/** Who is asking the gate: a caller with a full answer, an anonymous one, or a refusal. */
export type GateCaller =
  { kind: 'authenticated' } | { kind: 'anonymous' } | { kind: 'refused'; refusal: GateRefusal };

const AUTHENTICATED: GateCaller = { kind: 'authenticated' };
const ANONYMOUS: GateCaller = { kind: 'anonymous' };

/**
 * GATE_AUTH: `optional` answers a caller without a token with the decision alone and records
 * nothing of it; `required` refuses it. A token that is present but invalid is refused in both, so a
 * typo in the governor's token shows as 401s rather than as quietly reduced answers.
 */
@Injectable()
export class GateAuth {
  private readonly mode: GateAuthMode;
  /**
   * Per keep-alive connection, the Authorization header it last authenticated with (service or
   * operator), as bytes. The governor sends the same header on every plan: comparing it in constant
   * time costs a fraction of hashing it again. Only that connection's own requests are compared
   * with it, a different header is checked in full, and the tokens cannot change while the process
   * runs (OPS_API_TOKENS is read at boot). Entries go with their connection.
   */
  private readonly verified = new WeakMap<object, Buffer>();

  constructor(
    private readonly tokens: TokenRegistry,
    config: AppConfig,
  ) {
    this.mode = config.GATE_AUTH;
  }

  /** `connection`: the request's socket, for the per-connection check above. */
  caller(header: unknown, connection?: object): GateCaller {
    if (header === undefined && this.mode === 'optional') return ANONYMOUS;
    if (connection != null && typeof header === 'string' && this.seenOn(connection, header)) {
      return AUTHENTICATED;
    }
    const check: BearerCheck = checkBearer(header, this.tokens);
    if (check.kind === 'actor') {
      if (GATE_ROLES.has(check.actor.role)) {
        if (connection != null) this.verified.set(connection, Buffer.from(header as string, 'utf8'));
        return AUTHENTICATED;
      }
      return refuse(
        403,
        'role',
        `role "service" or "operator" required; the token has role "${check.actor.role}"`,
      );
    }
    if (check.kind === 'missing') {
      return refuse(
        401,
        'missing',
        'missing bearer token (GATE_AUTH=required): send "Authorization: Bearer <token>"',
      );
    }
    if (check.kind === 'malformed') {
      return refuse(401, 'malformed', 'malformed Authorization header: expected "Bearer <token>"');
    }
    return refuse(401, 'unknown', 'unknown token: it matches no entry of OPS_API_TOKENS');
  }

  private seenOn(connection: object, header: string): boolean {
    const known = this.verified.get(connection);
    if (known === undefined) return false;
    const presented = Buffer.from(header, 'utf8');
    return presented.length === known.length && timingSafeEqual(presented, known);
  }
}

function refuse(status: 401 | 403, problem: GateRefusal['problem'], message: string): GateCaller {
  return {
    kind: 'refused',
    refusal: { status, problem, body: errorBody(status, message, { required_role: 'service' as const }) },
  };
}
