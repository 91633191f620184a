import { describe, expect, it } from 'vitest';
import { ManualClock } from '../platform/clock/clock.js';
import type { AppConfig } from '../platform/config/index.js';
import { HealthParts } from '../platform/observability/health-parts.js';
import { Metrics } from '../platform/observability/metrics.js';
import type { RedisService } from '../platform/redis/redis.service.js';
import type { GateService } from './gate.service.js';
import type { GateDecision, PlanInput } from './gate.types.js';
import { CLUSTER_MAX_IN_FLIGHT, PlanConsumer } from './plan-consumer.js';
import type { PlanOutcomeRepository } from './plan-outcome.repository.js';

const ALLOW: GateDecision = { decision: 'ALLOW', reason: 'within_budget', mode: 'enforce', enforced: true };

/** A consumer whose gate answers after a macrotask and records how many decisions overlapped. */
function consumerOn(isCluster: boolean) {
  let inFlight = 0;
  let peak = 0;
  const judged: string[] = [];
  const gate = {
    evaluate: async (plan: PlanInput) => {
      peak = Math.max(peak, ++inFlight);
      await new Promise((r) => setTimeout(r, 1));
      inFlight--;
      judged.push(plan.plan_id);
      return ALLOW;
    },
  } as unknown as GateService;
  const outcomes = {
    write: async () => true,
    ack: async () => undefined,
  } as unknown as PlanOutcomeRepository;
  const consumer = new PlanConsumer(
    { isCluster, topology: { crossSlotScripts: !isCluster } } as unknown as RedisService,
    gate,
    outcomes,
    new Metrics(),
    new ManualClock(),
    new HealthParts(),
    {} as AppConfig,
  );
  return { consumer, judged, peak: () => peak };
}

const batch = (n: number): Array<[string, string[]]> =>
  Array.from({ length: n }, (_, i) => [
    `${i}-0`,
    ['plan_id', `p-${i}`, 'symbol', 'BTCUSDT', 'decision', 'EXECUTE'],
  ]);

describe('PlanConsumer.processBatch', () => {
  it('on a single Redis judges the whole batch at once (its reads share one pipeline)', async () => {
    const { consumer, judged, peak } = consumerOn(false);
    await consumer.processBatch(batch(100));
    expect(peak()).toBe(100);
    expect(judged).toHaveLength(100);
  });

  it(`on a cluster keeps at most ${CLUSTER_MAX_IN_FLIGHT} decisions in flight, and still judges every plan once`, async () => {
    const { consumer, judged, peak } = consumerOn(true);
    await consumer.processBatch(batch(100));
    expect(peak()).toBe(CLUSTER_MAX_IN_FLIGHT);
    expect([...judged].sort()).toEqual(Array.from({ length: 100 }, (_, i) => `p-${i}`).sort());
  });

  it('100 unusable EXECUTE plans written by another service make one warning, the rest counted', async () => {
    const { consumer } = consumerOn(false);
    const warned: unknown[] = [];
    (consumer as unknown as { logger: { warn(m: unknown): void } }).logger.warn = (m) => warned.push(m);
    const garbage: Array<[string, string[]]> = Array.from({ length: 100 }, (_, i) => [
      `${i}-0`,
      ['plan_id', `g-${i}`, 'symbol', 'not a symbol', 'decision', 'EXECUTE'],
    ]);
    await consumer.processBatch(garbage);
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ msg: 'unusable EXECUTE plan acknowledged', plan_id: 'g-0' });
  });
});
