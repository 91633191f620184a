import { createHash, timingSafeEqual } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { AppConfig } from '../../config/index.js';

export type Role = 'viewer' | 'operator';
export interface Actor {
  name: string;
  role: Role;
}

interface Entry extends Actor {
  hash: Buffer;
}

export const sha256Hex = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');

/** The operators of OPS_API_TOKENS (`name:role:sha256hex`). Tokens themselves are never stored. */
@Injectable()
export class TokenRegistry {
  private readonly entries: Entry[];

  constructor(config: AppConfig) {
    this.entries = config.OPS_API_TOKENS.map((e) => {
      const [name, role, hex] = e.split(':');
      return { name, role: role as Role, hash: Buffer.from(hex, 'hex') };
    });
  }

  get configured(): boolean {
    return this.entries.length > 0;
  }

  /** Compares the token's hash with every entry in constant time, so timing reveals nothing. */
  authenticate(token: string): Actor | undefined {
    const presented = createHash('sha256').update(token, 'utf8').digest();
    let found: Entry | undefined;
    for (const e of this.entries) {
      if (timingSafeEqual(presented, e.hash) && !found) found = e;
    }
    return found ? { name: found.name, role: found.role } : undefined;
  }
}
