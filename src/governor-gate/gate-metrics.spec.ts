import { describe, expect, it } from 'vitest';
import { Metrics } from '../platform/observability/metrics.js';
import { GateMetrics, OTHER_SYMBOL } from './gate-metrics.js';
import type { GateDecision } from './gate.types.js';

const allow: GateDecision = { decision: 'ALLOW', reason: 'within_budget', mode: 'enforce', enforced: true };
const failOpen: GateDecision = {
  decision: 'ALLOW',
  reason: 'no_budget',
  mode: 'shadow',
  enforced: false,
  fail_open: 'no_budget',
};
const block: GateDecision = {
  decision: 'BLOCK',
  reason: 'p28_budget_violation',
  mode: 'enforce',
  enforced: true,
};

async function value(m: Metrics, name: string, labels: Record<string, string>): Promise<number> {
  const metric = (await m.registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = metric?.values.find((x) => Object.entries(labels).every(([k, l]) => x.labels[k] === l));
  return v?.value ?? 0;
}

describe('GateMetrics', () => {
  it('counts allows, blocks, decisions, fail-opens and latency', async () => {
    const m = new Metrics();
    const g = new GateMetrics(m);
    g.record('BTCUSDT', allow, 0.001, true);
    g.record('BTCUSDT', allow, 0.001, true);
    g.record('BTCUSDT', failOpen, 0.001, true);
    g.record('ETHUSDT', block, 0.002, true);
    expect(await value(m, 'quantum_govern_allow_total', { symbol: 'BTCUSDT' })).toBe(3);
    expect(
      await value(m, 'quantum_govern_block_total', { symbol: 'ETHUSDT', reason: 'p28_budget_violation' }),
    ).toBe(1);
    expect(await value(m, 'p28_gate_decisions_total', { decision: 'ALLOW', reason: 'within_budget' })).toBe(
      2,
    );
    expect(
      await value(m, 'p28_gate_decisions_total', { decision: 'BLOCK', reason: 'p28_budget_violation' }),
    ).toBe(1);
    expect(await value(m, 'p28_gate_fail_open_total', { reason: 'no_budget' })).toBe(1);
    const latency = (await m.registry.getMetricsAsJSON()).find((x) => x.name === 'p28_gate_latency_seconds');
    const count = latency?.values.find(
      (v) => (v as { metricName?: string }).metricName === 'p28_gate_latency_seconds_count',
    );
    expect(count?.value).toBe(4);
  });

  it('labels only symbols whose read found a budget hash; 1,000 junk symbols cannot crowd out real ones', async () => {
    const m = new Metrics();
    const g = new GateMetrics(m);
    for (let i = 0; i < 1000; i++) g.record(`JUNK${i}`, failOpen, 0, false);
    for (const junk of ['constructor', '__proto__', 'toString']) g.record(junk, failOpen, 0, false);
    g.record('BTCUSDT', allow, 0, true);
    g.record('BTCUSDT', block, 0, true);
    g.wouldBlock('BTCUSDT');
    // no read (timeout, Redis down): a symbol known from an earlier read keeps its label
    g.record('BTCUSDT', failOpen, 0, undefined);
    g.record('NEVERSEEN', failOpen, 0, undefined);
    expect(await value(m, 'quantum_govern_allow_total', { symbol: OTHER_SYMBOL })).toBe(1004);
    expect(await value(m, 'quantum_govern_allow_total', { symbol: 'BTCUSDT' })).toBe(2);
    expect(
      await value(m, 'quantum_govern_block_total', { symbol: 'BTCUSDT', reason: 'p28_budget_violation' }),
    ).toBe(1);
    expect(await value(m, 'p28_shadow_would_block_total', { symbol: 'BTCUSDT' })).toBe(1);
    const labels = (await m.registry.getMetricsAsJSON())
      .flatMap((x) => x.values)
      .map((v) => v.labels.symbol)
      .filter((x) => x !== undefined);
    expect(new Set(labels)).toEqual(new Set(['BTCUSDT', OTHER_SYMBOL]));
    // a symbol whose budget is gone is no longer labelled
    g.record('BTCUSDT', failOpen, 0, false);
    expect(await value(m, 'quantum_govern_allow_total', { symbol: OTHER_SYMBOL })).toBe(1005);
  });
});
