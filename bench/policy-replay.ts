/**
 * Replay of the decision log under a candidate policy (docs/contract.md §7, POST /ops/policy/replay).
 *
 *   node --import @swc-node/register/esm-register bench/policy-replay.ts [--decisions=N] [--smoke]
 *
 * Fills `quantum:p28:decisions` of a private redis-server with N logged decisions (default 200,000),
 * then replays them with a tighter base_risk_pct through PolicyReplay (the service behind the route,
 * paging with XRANGE COUNT). Targets (2-core machine): ≤ 2 s, RSS growth < 100 MB during the replay.
 * Then GET /governor/decisions?plan_id= for a plan that is not there (the whole log walked, as the
 * service does it), with the longest the event loop was held up meanwhile: a viewer's lookup must not
 * stall the gate's answers.
 */
import 'reflect-metadata';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { loadavg } from 'node:os';
import { DECISION_FIELDS } from '../src/governor-gate/decision-entry.js';
import { DecisionLogReader } from '../src/governor-gate/decision-log.reader.js';
import { PolicyReplay } from '../src/governor-gate/policy-replay.js';
import { AppConfig } from '../src/platform/config/index.js';
import type { PolicyReader } from '../src/platform/policy/policy-reader.js';
import type { RedisService } from '../src/platform/redis/redis.service.js';
import { Keys } from '../src/platform/redis/keys.js';
import { startTestRedis } from '../test/support/redis-server.js';

const args = process.argv.slice(2);
const smoke = args.includes('--smoke');
const nArg = args.find((a) => a.startsWith('--decisions='));
const N = nArg ? Number(nArg.split('=')[1]) : smoke ? 20_000 : 200_000;
const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'XRPUSDT', 'ADAUSDT', 'DOGEUSDT', 'BNBUSDT', 'AVAXUSDT'];
const REASONS = ['within_budget', 'p28_projected_over_budget', 'shadow_mode', 'no_budget', 'reduces_risk'];

function entry(i: number): string[] {
  const reason = REASONS[i % REASONS.length];
  const values: Record<string, string> = {
    plan_id: `plan-${i}`,
    symbol: SYMBOLS[i % SYMBOLS.length],
    side: i % 2 ? 'BUY' : 'SELL',
    qty: String(((i % 97) + 1) / 1000),
    projected_notional: String(500 + (i % 3000)),
    reduce_only: '',
    decision: reason === 'p28_projected_over_budget' ? 'BLOCK' : 'ALLOW',
    reason,
    mode: reason === 'shadow_mode' ? 'shadow' : 'enforce',
    enforced: String(reason === 'within_budget' || reason === 'p28_projected_over_budget'),
    budget_usd: '1668',
    budget_age_sec: String(i % 50),
    violation_age_sec: i % 11 === 0 ? '4' : '',
    position_amt: String(((i % 21) - 10) / 1000),
    price: '60000',
    equity_usd: '100000',
    portfolio_heat: '0.25',
    cluster_stress: String((i % 5) / 10),
    vol_regime: '0.33',
    policy_version: '0',
    timestamp_ms: String(Date.now()),
  };
  // the gate's own entry shape: one field `d`, every value as a JSON array in §7 order
  return ['d', JSON.stringify(DECISION_FIELDS.map((f) => values[f]))];
}

const redis = await startTestRedis();
const client = redis.client();
try {
  const fillStart = performance.now();
  for (let i = 0; i < N; i += 5000) {
    const p = client.pipeline();
    for (let j = i; j < Math.min(N, i + 5000); j++) p.xadd(Keys.decisions, '*', ...entry(j));
    await p.exec();
  }
  console.log(
    `filled ${await client.xlen(Keys.decisions)} decisions in ${((performance.now() - fillStart) / 1000).toFixed(1)} s`,
  );

  const config = new AppConfig();
  const policy: PolicyReader = {
    current: () => ({
      version: 0,
      policy: {
        alpha_heat: 0.4,
        beta_cluster: 0.4,
        gamma_vol: 0.2,
        base_risk_pct: 0.02,
        min_budget_usd: 500,
        max_budget_usd: 10000,
      },
    }),
  };
  const replay = new PolicyReplay(
    new DecisionLogReader({ client } as unknown as RedisService),
    policy,
    config,
  );
  global.gc?.();
  const rss0 = process.memoryUsage().rss;
  let peak = rss0;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const replayLag = monitorEventLoopDelay({ resolution: 1 });
  replayLag.enable();
  const t0 = performance.now();
  const res = await replay.replay({ policy: { base_risk_pct: 0.015 } });
  const ms = performance.now() - t0;
  clearInterval(sampler);
  replayLag.disable();
  peak = Math.max(peak, process.memoryUsage().rss);
  const growthMb = (peak - rss0) / 1024 / 1024;
  console.log(
    `replay of ${res.decisions} decisions: ${ms.toFixed(0)} ms (target ≤ 2000), RSS growth ${growthMb.toFixed(1)} MB ` +
      `(target < 100), event loop held up at most ${(replayLag.max / 1e6).toFixed(1)} ms, ` +
      `newly blocked ${res.changed.newly_blocked}, newly allowed ${res.changed.newly_allowed}, ` +
      `load average ${loadavg()[0].toFixed(2)}`,
  );
  if (res.decisions !== N) throw new Error(`replayed ${res.decisions}, expected ${N}`);

  const reader = new DecisionLogReader({ client } as unknown as RedisService);
  const lag = monitorEventLoopDelay({ resolution: 1 });
  lag.enable();
  const l0 = performance.now();
  const found = await reader.find({ plan_id: 'no-such-plan', limit: 100 });
  const lookupMs = performance.now() - l0;
  lag.disable();
  console.log(
    `lookup of a plan_id not in the log: ${lookupMs.toFixed(0)} ms, ${found.length} found, ` +
      `event loop held up at most ${(lag.max / 1e6).toFixed(1)} ms`,
  );
  process.exitCode = smoke || (ms <= 2000 && growthMb < 100) ? 0 : 1;
} finally {
  client.disconnect();
  await redis.close();
}
