import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Clock } from '../../platform/clock/clock.js';
import { LeaderService } from '../../platform/redis/leader.service.js';
import { isExpired } from '../../core/mode.js';
import { ModeCache } from './mode-cache.js';
import { ModeChanges } from './mode-changes.js';

/** How often the leader looks at the expiry: a revert lands at most this late. */
const EXPIRY_CHECK_MS = 250;

/**
 * Ends an expiring enforce or reduce_only, back to the mode its change replaced. The expiry lives in Redis (`expires_at` in the mode hash), so it
 * survives restarts; the replica holding the lease reverts it with its own ledger entry
 * (`auto-revert`, actor `system`). The change re-checks the expiry against Redis under
 * compare-and-set, so a racing operator change or a second replica cannot double it.
 */
@Injectable()
export class ModeExpiryService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('ModeExpiry');
  private timer?: NodeJS.Timeout;
  private running = false;

  constructor(
    private readonly cache: ModeCache,
    private readonly changes: ModeChanges,
    private readonly leader: LeaderService,
    private readonly clock: Clock,
  ) {}

  onModuleInit() {
    this.timer = setInterval(() => void this.check(), EXPIRY_CHECK_MS);
    this.timer.unref();
  }

  onApplicationShutdown() {
    clearInterval(this.timer);
  }

  /** One look; exposed for tests and for a caller that wants the revert now. */
  async check(): Promise<boolean> {
    if (this.running || !this.leader.isLeader()) return false;
    const view = this.cache.current();
    if (!isExpired(view, this.clock.nowSec())) return false;
    this.running = true;
    try {
      const res = await this.changes.change({
        intent: { op: 'auto-revert' },
        actor: 'system',
        reason: `expiring ${view.mode} reached expires_at ${new Date((view.expires_at ?? 0) * 1000).toISOString()}`,
      });
      const applied = res !== undefined && !('unchanged' in res);
      if (applied) {
        this.logger.warn({
          msg: `${res.entry.from_mode} expired; reverted to ${res.entry.to_mode}`,
          operation_id: res.operation_id,
        });
      }
      return applied;
    } catch (err) {
      this.logger.error({ msg: 'auto-revert failed; retrying', error: (err as Error).message });
      return false;
    } finally {
      this.running = false;
    }
  }
}
