import { Injectable, type OnModuleInit } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { AppConfig } from '../platform/config/index.js';
import { Keys } from '../platform/redis/keys.js';
import { RedisService } from '../platform/redis/redis.service.js';
import type { GateDecision, PlanInput } from './gate.types.js';

const PERMIT_TTL_SEC = 60;
const BLOCK_TTL_SEC = 3600;
/**
 * How long a decided plan id is remembered. The permit expires after 60 s (and an executor may
 * consume it), so the permit alone cannot make a republished plan a duplicate.
 */
const PLAN_SEEN_TTL_SEC = 86_400;

/**
 * One plan's outcome in one atomic step: if neither a permit nor a block record exists for the
 * plan id, write the one that applies, append the governor event, and acknowledge the entry;
 * otherwise (a replay, or the same plan published twice) only acknowledge. A consumer that dies
 * before this runs leaves the entry pending for another to claim; one that dies after it leaves
 * nothing to redo. So each plan gets exactly one key and one event.
 * KEYS: permit, block, events stream, plan stream, seen marker. ARGV: target (permit|block), value,
 * ttl, events maxlen, group, entry id, seen ttl, event field/value pairs...
 */
const OUTCOME_LUA = `
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1
  or not redis.call('SET', KEYS[5], '1', 'NX', 'EX', ARGV[7]) then
  redis.call('XACK', KEYS[4], ARGV[5], ARGV[6])
  return 0
end
local target = KEYS[2]
if ARGV[1] == 'permit' then target = KEYS[1] end
redis.call('SET', target, ARGV[2], 'EX', ARGV[3])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[4], '*', unpack(ARGV, 8))
redis.call('XACK', KEYS[4], ARGV[5], ARGV[6])
return 1
`;

type OutcomeClient = Redis & {
  p28GateOutcome(...args: (string | number)[]): Promise<number>;
};

/** Permit / block records, governor events and acknowledgements of the plan consumer. */
@Injectable()
export class PlanOutcomeRepository implements OnModuleInit {
  constructor(
    private readonly redis: RedisService,
    private readonly config: AppConfig,
  ) {}

  onModuleInit() {
    if (this.redis.topology.crossSlotScripts) {
      (this.redis.client as Redis).defineCommand('p28GateOutcome', { numberOfKeys: 5, lua: OUTCOME_LUA });
    }
  }

  /** True when this call wrote the key and the event; false when the plan already had an outcome. */
  async write(entryId: string, plan: PlanInput, d: GateDecision, nowSec: number): Promise<boolean> {
    const blocked = d.decision === 'BLOCK';
    const value = JSON.stringify(
      blocked
        ? { reason: d.reason, timestamp: nowSec, symbol: plan.symbol }
        : { granted: true, symbol: plan.symbol, decision: 'EXECUTE', created_at: nowSec, consumed: false },
    );
    const ttl = blocked ? BLOCK_TTL_SEC : PERMIT_TTL_SEC;
    const event = governorEvent(plan, d, nowSec);
    const permitKey = Keys.permit(plan.plan_id);
    const blockKey = Keys.block(plan.plan_id);
    const seenKey = Keys.planSeen(plan.plan_id);

    if (this.redis.topology.crossSlotScripts) {
      const wrote = await (this.redis.client as OutcomeClient).p28GateOutcome(
        permitKey,
        blockKey,
        Keys.governorEvents,
        Keys.planStream,
        seenKey,
        blocked ? 'block' : 'permit',
        value,
        ttl,
        this.config.GOVERNOR_EVENTS_MAXLEN,
        Keys.planConsumerGroup,
        entryId,
        PLAN_SEEN_TTL_SEC,
        ...event,
      );
      return wrote === 1;
    }

    // Cluster: the four keys live on different slots, so no script can cover them. SET NX keeps the
    // key unique; a crash between the SET and the XADD loses that plan's event (the replay sees the
    // key and only acknowledges), a gap preferred to a duplicate event.
    const c = this.redis.client;
    const [permitExists, blockExists] = await Promise.all([c.exists(permitKey), c.exists(blockKey)]);
    let wrote = false;
    const firstTime =
      !permitExists && !blockExists && (await c.set(seenKey, '1', 'EX', PLAN_SEEN_TTL_SEC, 'NX')) === 'OK';
    if (firstTime) {
      wrote = (await c.set(blocked ? blockKey : permitKey, value, 'EX', ttl, 'NX')) === 'OK';
      if (wrote) {
        await c.xadd(Keys.governorEvents, 'MAXLEN', '~', this.config.GOVERNOR_EVENTS_MAXLEN, '*', ...event);
      }
    }
    await this.ack([entryId]);
    return wrote;
  }

  async ack(entryIds: string[]): Promise<void> {
    if (entryIds.length === 0) return;
    await this.redis.client.xack(Keys.planStream, Keys.planConsumerGroup, ...entryIds);
  }
}

/** The governor.events entry: flat fields for stream readers plus the whole decision as `json`. */
function governorEvent(plan: PlanInput, d: GateDecision, nowSec: number): string[] {
  const json = JSON.stringify({
    event_type: 'p28.gate_decision',
    plan_id: plan.plan_id,
    symbol: plan.symbol,
    ...d,
    timestamp: nowSec,
  });
  return [
    'event_type',
    'p28.gate_decision',
    'plan_id',
    plan.plan_id,
    'symbol',
    plan.symbol,
    'decision',
    d.decision,
    'reason',
    d.reason,
    'mode',
    d.mode,
    'timestamp',
    String(nowSec),
    'json',
    json,
  ];
}
