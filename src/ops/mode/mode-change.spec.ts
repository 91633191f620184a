import { describe, expect, it } from 'vitest';
import {
  formatOperationId,
  GENESIS_HASH,
  sealEntry,
  type LedgerEntry,
} from '../../core/ledger/ledger-entry.js';
import {
  isExpired,
  parseModeState,
  planChange,
  replayState,
  RollbackTarget,
  type ModeState,
} from './mode-change.js';

const NOW = 1_750_000_000;
const state = (s: Partial<ModeState> = {}): ModeState => ({
  mode: 'shadow',
  version: 3,
  overrides: new Map(),
  stored: true,
  ...s,
});

describe('planChange', () => {
  it('set-mode to enforce is high risk and carries the expiry', () => {
    const p = planChange(state(), { op: 'set-mode', mode: 'enforce', expiresInSec: 600 }, NOW);
    expect(p).toMatchObject({
      operation_name: 'set-mode',
      scope: 'global',
      from_mode: 'shadow',
      to_mode: 'enforce',
      risk_class: 'high',
      action: 'mode',
      mode: 'enforce',
      expires_at: NOW + 600,
    });
  });

  it('set-mode without an expiry removes a running one; to shadow is low risk', () => {
    const running = state({ mode: 'enforce', expires_at: NOW + 5 });
    expect(planChange(running, { op: 'set-mode', mode: 'enforce' }, NOW)?.expires_at).toBeNull();
    expect(planChange(running, { op: 'set-mode', mode: 'shadow' }, NOW)).toMatchObject({
      from_mode: 'enforce',
      to_mode: 'shadow',
      risk_class: 'low',
      expires_at: null,
    });
  });

  it('an override starts from the symbol effective mode and keeps the global expiry', () => {
    const s = state({ mode: 'enforce', expires_at: NOW + 60, overrides: new Map([['ETHUSDT', 'shadow']]) });
    expect(planChange(s, { op: 'set-override', symbol: 'BTCUSDT', mode: 'shadow' }, NOW)).toMatchObject({
      operation_name: 'set-override',
      scope: 'BTCUSDT',
      from_mode: 'enforce',
      to_mode: 'shadow',
      risk_class: 'low',
      action: 'override-set',
      mode: 'enforce',
      expires_at: undefined,
    });
    expect(planChange(s, { op: 'clear-override', symbol: 'ETHUSDT' }, NOW)).toMatchObject({
      operation_name: 'clear-override',
      scope: 'ETHUSDT',
      from_mode: 'shadow',
      to_mode: 'enforce',
      risk_class: 'high',
      action: 'override-clear',
    });
  });

  it('rollback goes to shadow, says whether anything was enforcing, and drops the expiry', () => {
    expect(
      planChange(state({ overrides: new Map([['BTCUSDT', 'enforce']]) }), { op: 'rollback' }, NOW),
    ).toMatchObject({
      operation_name: 'rollback',
      from_mode: 'enforce',
      to_mode: 'shadow',
      action: 'rollback',
      mode: 'shadow',
      expires_at: null,
    });
    expect(
      planChange(state({ overrides: new Map([['BTCUSDT', 'shadow']]) }), { op: 'rollback' }, NOW)?.from_mode,
    ).toBe('shadow');
  });

  it('a rollback with nothing to undo (shadow, no override, no expiry) plans nothing', () => {
    expect(planChange(state({ mode: 'shadow' }), { op: 'rollback' }, NOW)).toBeUndefined();
    expect(planChange(state({ mode: 'enforce' }), { op: 'rollback' }, NOW)).toBeDefined();
  });

  it('auto-revert applies only once an enforce expiry is reached', () => {
    const s = state({ mode: 'enforce', expires_at: NOW });
    expect(planChange(s, { op: 'auto-revert' }, NOW - 1)).toBeUndefined();
    expect(planChange(state({ mode: 'enforce' }), { op: 'auto-revert' }, NOW)).toBeUndefined();
    expect(planChange(state({ expires_at: NOW }), { op: 'auto-revert' }, NOW)).toBeUndefined();
    expect(planChange(s, { op: 'auto-revert' }, NOW)).toMatchObject({
      operation_name: 'auto-revert',
      from_mode: 'enforce',
      to_mode: 'shadow',
      mode: 'shadow',
      expires_at: null,
    });
    expect(isExpired(s, NOW + 100)).toBe(true);
  });
});

describe('parseModeState', () => {
  it('an absent hash is the P28_MODE default at version 0', () => {
    expect(parseModeState({}, {}, 'enforce')).toEqual({
      state: { mode: 'enforce', version: 0, overrides: new Map(), stored: false },
      problems: [],
    });
  });

  it('reads every field and reports the ones that do not parse', () => {
    const { state: s, problems } = parseModeState(
      {
        mode: 'enforce',
        version: '7',
        changed_at: '100',
        changed_by: 'alice',
        operation_id: 'OPS-x',
        expires_at: '200',
      },
      { BTCUSDT: 'shadow', ETHUSDT: 'ENFORCE!' },
      'shadow',
    );
    expect(s).toEqual({
      mode: 'enforce',
      version: 7,
      changed_at: 100,
      changed_by: 'alice',
      operation_id: 'OPS-x',
      expires_at: 200,
      overrides: new Map([['BTCUSDT', 'shadow']]),
      stored: true,
    });
    expect(problems).toEqual(['override for ETHUSDT is "ENFORCE!"']);
    const bad = parseModeState({ mode: 'nope', version: '1.5', expires_at: 'soon' }, {}, 'shadow');
    expect(bad.state.mode).toBe('shadow');
    expect(bad.state.expires_at).toBeUndefined();
    expect(bad.problems).toHaveLength(3);
  });
});

describe('replayState', () => {
  const entries: LedgerEntry[] = [];
  const add = (e: Pick<LedgerEntry, 'operation_name' | 'scope' | 'to_mode'> & { expires_at?: number }) => {
    const n = entries.length + 1;
    entries.push(
      sealEntry({
        operation_id: formatOperationId('2025-05-05', n),
        actor: `op${n}`,
        from_mode: 'shadow',
        reason: 'r',
        risk_class: 'low',
        outcome: 'applied',
        version: n,
        git_commit: 'c',
        hostname: 'h',
        timestamp: NOW + n,
        prev_hash: entries.at(-1)?.hash ?? GENESIS_HASH,
        ...e,
      }),
    );
  };

  it('replays global changes, overrides and rollbacks to the last state', () => {
    expect(replayState([], 'shadow')).toBeUndefined();
    add({ operation_name: 'set-override', scope: 'BTCUSDT', to_mode: 'enforce' });
    add({ operation_name: 'rollback', scope: 'global', to_mode: 'shadow' });
    add({ operation_name: 'set-mode', scope: 'global', to_mode: 'enforce' });
    add({ operation_name: 'set-override', scope: 'ETHUSDT', to_mode: 'shadow' });
    add({ operation_name: 'set-override', scope: 'SOLUSDT', to_mode: 'shadow' });
    add({ operation_name: 'clear-override', scope: 'SOLUSDT', to_mode: 'enforce' });
    expect(replayState(entries, 'shadow')).toEqual({
      mode: 'enforce',
      version: 6,
      changed_at: NOW + 6,
      changed_by: 'op6',
      operation_id: 'OPS-2025-05-05-006',
      overrides: new Map([['ETHUSDT', 'shadow']]),
    });
    add({ operation_name: 'auto-revert', scope: 'global', to_mode: 'shadow' });
    expect(replayState(entries, 'enforce')?.mode).toBe('shadow');
  });

  it('keeps the expiry of a time-boxed enforce through override changes, and drops it on any later global change', () => {
    entries.length = 0;
    add({ operation_name: 'set-mode', scope: 'global', to_mode: 'enforce', expires_at: NOW + 3600 });
    add({ operation_name: 'set-override', scope: 'BTCUSDT', to_mode: 'shadow' });
    expect(replayState(entries, 'shadow')).toMatchObject({ mode: 'enforce', expires_at: NOW + 3600 });
    add({ operation_name: 'set-mode', scope: 'global', to_mode: 'enforce' });
    expect(replayState(entries, 'shadow')?.expires_at).toBeUndefined();
    add({ operation_name: 'set-mode', scope: 'global', to_mode: 'enforce', expires_at: NOW + 60 });
    add({ operation_name: 'rollback', scope: 'global', to_mode: 'shadow' });
    expect(replayState(entries, 'shadow')).toMatchObject({ mode: 'shadow' });
    expect(replayState(entries, 'shadow')?.expires_at).toBeUndefined();
  });
});

describe('RollbackTarget', () => {
  const entry = (operation_id: string, operation_name: string, scope: string, to_mode: string) => ({
    operation_id,
    operation_name,
    scope,
    to_mode,
  });
  /** Walks `newestFirst` as findNewest would: stops at the first true. */
  const target = (s: ModeState, newestFirst: Array<Record<string, unknown>>) => {
    const walk = RollbackTarget.from(s);
    if (!walk) return 'nothing to walk';
    const seen = newestFirst.findIndex((e) => walk.visit(e));
    return { target: walk.target, stoppedAt: seen };
  };

  it('has nothing to walk when nothing enforces', () => {
    expect(
      RollbackTarget.from(state({ mode: 'shadow', overrides: new Map([['BTCUSDT', 'shadow']]) })),
    ).toBeUndefined();
  });

  it('names the global enforce in effect, not an older reverted one', () => {
    const log = [
      entry('C', 'set-override', 'ETHUSDT', 'shadow'),
      entry('B', 'set-mode', 'global', 'enforce'),
      entry('A', 'set-mode', 'global', 'enforce'),
    ];
    expect(target(state({ mode: 'enforce' }), log)).toEqual({ target: 'B', stoppedAt: 1 });
  });

  it('names nothing when the newest change of the enforcing scope did not set enforce (P28_MODE seed)', () => {
    // global enforce from the seed: the ledger's newest global entry reverted an older enforce
    const log = [entry('B', 'set-mode', 'global', 'shadow'), entry('A', 'set-mode', 'global', 'enforce')];
    expect(target(state({ mode: 'enforce' }), log)).toEqual({ target: undefined, stoppedAt: 0 });
  });

  it('names the newest enforce override still in effect; a rollback before it ends the walk', () => {
    const s = state({
      mode: 'shadow',
      overrides: new Map([
        ['ETHUSDT', 'enforce'],
        ['SOLUSDT', 'shadow'],
      ]),
    });
    const log = [
      entry('E', 'set-override', 'SOLUSDT', 'enforce'), // SOL is shadow now: not in effect
      entry('D', 'set-override', 'ETHUSDT', 'enforce'),
      entry('C', 'rollback', 'global', 'shadow'),
    ];
    expect(target(s, log)).toEqual({ target: 'D', stoppedAt: 1 });
    // an override with no entry after the last rollback: nothing to name
    expect(
      target(s, [
        entry('C', 'rollback', 'global', 'shadow'),
        entry('B', 'set-override', 'ETHUSDT', 'enforce'),
      ]),
    ).toEqual({ target: undefined, stoppedAt: 0 });
  });

  it('with both in effect, the newer of the global and the override entries', () => {
    const s = state({ mode: 'enforce', overrides: new Map([['ETHUSDT', 'enforce']]) });
    const log = [
      entry('B', 'set-override', 'ETHUSDT', 'enforce'),
      entry('A', 'set-mode', 'global', 'enforce'),
    ];
    expect(target(s, log)).toEqual({ target: 'B', stoppedAt: 0 });
  });
});

describe('reduce_only in changes, the ledger replay and the mode hash (docs/contract.md §4 Modes and the audit trail)', () => {
  it('an expiring change records what it replaced; the auto-revert returns to it', () => {
    const ro = state({ mode: 'reduce_only' });
    const p = planChange(ro, { op: 'set-mode', mode: 'enforce', expiresInSec: 60 }, NOW);
    expect(p).toMatchObject({ from_mode: 'reduce_only', to_mode: 'enforce', revert_to: 'reduce_only' });
    const running = state({ mode: 'enforce', expires_at: NOW + 60, revert_to: 'reduce_only' });
    expect(planChange(running, { op: 'auto-revert' }, NOW + 60)).toMatchObject({
      operation_name: 'auto-revert',
      from_mode: 'enforce',
      to_mode: 'reduce_only',
      mode: 'reduce_only',
      risk_class: 'high',
      expires_at: null,
    });
    // an expired mode not yet reverted is replaced as what it reads as
    expect(planChange(running, { op: 'set-mode', mode: 'shadow' }, NOW + 61)?.from_mode).toBe('reduce_only');
  });

  it('reduce_only is high risk, may expire, and a rollback names it as what it undoes', () => {
    expect(planChange(state(), { op: 'set-mode', mode: 'reduce_only', expiresInSec: 5 }, NOW)).toMatchObject({
      risk_class: 'high',
      expires_at: NOW + 5,
      revert_to: 'shadow',
    });
    expect(planChange(state({ mode: 'reduce_only' }), { op: 'rollback' }, NOW)?.from_mode).toBe(
      'reduce_only',
    );
    const over = state({ overrides: new Map([['BTCUSDT', 'reduce_only' as const]]) });
    expect(planChange(over, { op: 'rollback' }, NOW)?.from_mode).toBe('reduce_only');
    const walk = RollbackTarget.from(state({ mode: 'reduce_only' }));
    expect(
      walk?.visit({
        operation_id: 'OPS-2025-05-05-001',
        operation_name: 'set-mode',
        scope: 'global',
        to_mode: 'reduce_only',
      }),
    ).toBe(true);
    expect(walk?.target).toBe('OPS-2025-05-05-001');
  });

  it('parses reduce_only and revert_to from the hashes; junk values are problems, not modes', () => {
    const ok = parseModeState(
      { mode: 'reduce_only', version: '4', expires_at: String(NOW), revert_to: 'enforce' },
      { BTCUSDT: 'reduce_only', constructor: 'reduce_only', __proto__x: 'toString' },
      'shadow',
    );
    expect(ok.state).toMatchObject({ mode: 'reduce_only', expires_at: NOW, revert_to: 'enforce' });
    expect(ok.state.overrides.get('constructor')).toBe('reduce_only');
    expect(ok.state.overrides.has('__proto__x')).toBe(false);
    const bad = parseModeState({ mode: 'enforce', version: '1', revert_to: 'constructor' }, {}, 'shadow');
    expect(bad.state.revert_to).toBeUndefined();
    expect(bad.problems).toHaveLength(1);
  });

  it('the replay restores an expiring mode with what it reverts to', () => {
    const e = (n: number, f: Partial<LedgerEntry>) =>
      sealEntry({
        operation_id: formatOperationId('2025-05-06', n),
        operation_name: 'set-mode',
        actor: 'a',
        scope: 'global',
        from_mode: 'shadow',
        to_mode: 'shadow',
        reason: 'r',
        risk_class: 'high',
        outcome: 'applied',
        version: n,
        git_commit: 'c',
        hostname: 'h',
        timestamp: NOW + n,
        prev_hash: GENESIS_HASH,
        ...f,
      });
    const entries = [
      e(1, { to_mode: 'reduce_only' }),
      e(2, { from_mode: 'reduce_only', to_mode: 'enforce', expires_at: NOW + 60 }),
    ];
    expect(replayState(entries, 'shadow')).toMatchObject({
      mode: 'enforce',
      expires_at: NOW + 60,
      revert_to: 'reduce_only',
    });
  });
});
