import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../platform/clock/clock.js';
import type { AppConfig } from '../../platform/config/index.js';
import { HealthParts } from '../../platform/observability/health-parts.js';
import { Metrics } from '../../platform/observability/metrics.js';
import type { RedisService } from '../../platform/redis/redis.service.js';
import type { LedgerMirror } from '../ledger/ledger-mirror.js';
import type { ModeState } from './mode-change.js';
import { ModeCache } from './mode-cache.js';
import type { ModeRepository, ModeSnapshot } from './mode.repository.js';

const DAY = '2026-11-30';

/** A cache over a fake repository whose every read answers `state`. */
function cacheOver(state: Partial<ModeState>): ModeCache {
  const snap: ModeSnapshot = {
    state: { mode: 'shadow', version: 1, overrides: new Map(), stored: true, ...state },
    problems: [],
    head: 'h',
  };
  return new ModeCache(
    { read: async () => snap } as unknown as ModeRepository,
    { noticeHead: () => undefined } as unknown as LedgerMirror,
    {} as RedisService,
    { P28_MODE: 'shadow', MODE_REFRESH_MS: 1000 } as AppConfig,
    new Metrics(),
    new ManualClock(Date.parse(`${DAY}T12:00:00Z`)),
    new HealthParts(),
  );
}

describe('ModeCache: the per-day operation-id sequence', () => {
  it('continues from the highest id the cache read that day when Redis lost its counter', async () => {
    const cache = cacheOver({ version: 7, operation_id: `OPS-${DAY}-007` });
    await cache.refresh();
    expect(cache.nextSeq(DAY, 0)).toBe(8);
    expect(cache.nextSeq(DAY, 9)).toBe(10);
    expect(cache.nextSeq('2026-12-01', 0)).toBe(1);
  });

  it('only ever raises the memory, and ignores ids it cannot parse', () => {
    const cache = cacheOver({});
    cache.noteSeq(`OPS-${DAY}-012`);
    cache.noteSeq(`OPS-${DAY}-003`);
    cache.noteSeq('not-an-id');
    cache.noteSeq(undefined);
    expect(cache.nextSeq(DAY, 0)).toBe(13);
  });
});
