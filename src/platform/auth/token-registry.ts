import { hash, timingSafeEqual } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/index.js';
import { parseTokenEntries, type Role, type TokenEntry } from './token-entries.js';

export { sha256Hex } from './token-entries.js';
export type { Role } from './token-entries.js';

export interface Actor {
  name: string;
  role: Role;
}

/** The operators of OPS_API_TOKENS (`name:role:sha256hex`). Tokens themselves are never stored. */
@Injectable()
export class TokenRegistry {
  private readonly entries: Array<TokenEntry & { actor: Readonly<Actor> }>;

  constructor(config: AppConfig) {
    // one actor per entry, built once: the gate authenticates every decision
    this.entries = parseTokenEntries(config.OPS_API_TOKENS).map((e) => ({
      ...e,
      actor: Object.freeze({ name: e.name, role: e.role }),
    }));
  }

  get configured(): boolean {
    return this.entries.length > 0;
  }

  /**
   * Compares the token's hash with every entry, in constant time and without stopping at a match,
   * so the response time says nothing about which entry (if any) matched.
   */
  authenticate(token: string): Actor | undefined {
    // the one-shot hash (half the cost of createHash; the gate checks a token per decision), as a
    // latin1 ('binary') string turned into bytes: Node 20's 'buffer' output costs twice as much
    const presented = Buffer.from(hash('sha256', token, 'binary'), 'binary');
    let found: Readonly<Actor> | undefined;
    for (const e of this.entries) {
      const same = timingSafeEqual(presented, e.hash);
      if (same && !found) found = e.actor;
    }
    return found;
  }
}
