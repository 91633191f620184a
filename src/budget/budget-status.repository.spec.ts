import { describe, expect, it } from 'vitest';
import { AppConfig } from '../platform/config/index.js';
import { BudgetStatusRepository } from './budget-status.repository.js';
import type { BudgetRedis } from './budget-redis.js';

const NOW = 1_800_000_000_000;
const judge = (v: unknown[]) => BudgetStatusRepository.judge(v, NOW);

describe('BudgetStatusRepository: what a follower may take from the leader (docs/contract.md §2)', () => {
  it('a success time up to 60 s ahead is taken; further ahead it would never age, and is refused', () => {
    expect(judge([String(NOW + 60_000), '1', '1', String(NOW)])).toMatchObject({ ok: true });
    expect(judge([String(NOW + 60_001), '1', '1', String(NOW)])).toEqual({ ok: false, why: 'future' });
    expect(judge([String(NOW + 86_400_000), '1', '1'])).toEqual({ ok: false, why: 'future' });
  });

  it('absent, garbage and wrong-typed fields are no success', () => {
    expect(judge([null, null, null, null])).toEqual({ ok: false, why: 'absent' });
    for (const bad of ['abc', '-5', 'Infinity', '0', '1e400'])
      expect(judge([bad, '1', '1', String(NOW)]), bad).toMatchObject({ ok: false });
    expect(judge([String(NOW), 'x', '1', String(NOW)])).toEqual({ ok: false, why: 'garbage' });
    expect(judge([String(NOW), '1', ['1'], String(NOW)])).toEqual({ ok: false, why: 'garbage' });
  });

  it('a status without tick_ms (an older leader) counts only when it wrote something or had nothing to do', () => {
    expect(judge([String(NOW), '3', '0'])).toEqual({ ok: false, why: 'not_written' });
    expect(judge([String(NOW), '3', '2'])).toMatchObject({ ok: true, lastSuccessMs: NOW });
    expect(judge([String(NOW), '0', '0'])).toMatchObject({ ok: true });
  });

  it('a failed tick writes its counts but leaves last_success_ms alone', () => {
    const repo = new BudgetStatusRepository(new AppConfig(), {} as BudgetRedis);
    const [failed] = repo.commands(NOW, 3, 0);
    expect(failed).not.toContain('last_success_ms');
    expect(failed).toEqual(['hset', 'quantum:p28:budget_status', 'tick_ms', NOW, 'symbols', 3, 'written', 0]);
    const [ok] = repo.commands(NOW, 3, 2);
    expect(ok.slice(-2)).toEqual(['last_success_ms', NOW]);
    expect(repo.commands(NOW, 0, 0)[0]).toContain('last_success_ms');
  });
});
