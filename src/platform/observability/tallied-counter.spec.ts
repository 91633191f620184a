import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { TalliedCounter } from './tallied-counter.js';

describe('TalliedCounter', () => {
  it('shows its tallies when read, once each, by get() and by the exposition alike', async () => {
    const registry = new Registry();
    const c = new TalliedCounter('t_total', 'test', ['symbol'], registry);
    for (let i = 0; i < 3; i++) c.tally('BTCUSDT', 'BTCUSDT').n++;
    // label values that are also Object.prototype's names are ordinary keys
    c.tally('__proto__', '__proto__').n++;
    c.tally('constructor', 'constructor').n += 2;
    const first = await c.counter.get();
    expect(first.values.map((v) => [v.labels.symbol, v.value])).toEqual([
      ['BTCUSDT', 3],
      ['__proto__', 1],
      ['constructor', 2],
    ]);
    // a second read adds nothing that was already added
    c.tally('BTCUSDT', 'BTCUSDT').n++;
    expect(await registry.metrics()).toContain('t_total{symbol="BTCUSDT"} 4');
    expect(await registry.metrics()).toContain('t_total{symbol="BTCUSDT"} 4');
    expect(await registry.metrics()).toContain('t_total{symbol="constructor"} 2');
  });

  it('starts a label set at zero like a counter child', async () => {
    const registry = new Registry();
    const c = new TalliedCounter('z_total', 'test', ['reason'], registry);
    c.counter.labels('timeout').inc(0);
    expect(await registry.metrics()).toContain('z_total{reason="timeout"} 0');
    c.tally('timeout', 'timeout').n++;
    expect(await registry.metrics()).toContain('z_total{reason="timeout"} 1');
  });
});
