import { hostname } from 'node:os';
import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { ConflictError, InvalidInputError, UnavailableError } from '../../core/errors.js';
import {
  formatOperationId,
  isPolicyOperation,
  utcDay,
  type LedgerEntry,
  type OperationName,
} from '../../core/ledger/ledger-entry.js';
import {
  mergePolicy,
  parsePolicy,
  policyJson,
  type PolicyProblem,
  type RiskPolicy,
} from '../../core/policy.js';
import { Clock } from '../../platform/clock/clock.js';
import { AppConfig } from '../../platform/config/index.js';
import { HealthParts } from '../../platform/observability/health-parts.js';
import { Metrics } from '../../platform/observability/metrics.js';
import { PolicyReader, type PolicyView } from '../../platform/policy/policy-reader.js';
import { Keys } from '../../platform/redis/keys.js';
import { RedisService } from '../../platform/redis/redis.service.js';
import { SharedStateFollower } from '../../platform/redis/shared-state.js';
import { LedgerMirror } from '../ledger/ledger-mirror.js';
import { LedgerSigner } from '../ledger/ledger-signer.js';
import { LedgerRepository } from '../ledger/ledger.repository.js';
import { ModeRepository } from '../mode/mode.repository.js';
import { PolicyRepository, storedVersion } from './policy.repository.js';
import { chainHeadLine } from '../ledger/ledger-head.js';

export type PolicyIntent = { op: 'set'; change: unknown } | { op: 'revert'; toVersion?: number };

export interface PolicyChangeRequest {
  intent: PolicyIntent;
  actor: string;
  reason: string;
  expectedVersion?: number;
}

export interface PolicyChangeResult {
  policy: RiskPolicy;
  version: number;
  operation_id: string;
  entry: LedgerEntry;
}

const MAX_ATTEMPTS = 5;
const STARTUP_SYNC_MS = 2000;

/** The policy the environment seeds (docs/contract.md §2 defaults). */
function envPolicy(c: AppConfig): RiskPolicy {
  return {
    alpha_heat: c.ALPHA_HEAT,
    beta_cluster: c.BETA_CLUSTER,
    gamma_vol: c.GAMMA_VOL,
    base_risk_pct: c.BASE_RISK_PCT,
    min_budget_usd: c.MIN_BUDGET_USD,
    max_budget_usd: c.MAX_BUDGET_USD,
  };
}

const invalid = (problems: PolicyProblem[]) =>
  new InvalidInputError(
    problems.map((p) => p.message),
    { fields: problems.map((p) => p.field) },
  );

const unavailable = (err: Error, duringWrite: boolean) =>
  new UnavailableError(
    duringWrite
      ? `Redis failed during the change (${err.message}); it may or may not have been applied: check GET /ops/policy and GET /ops/ledger before retrying`
      : `Redis is unavailable (${err.message}); nothing was changed`,
    { outcome: duringWrite ? 'unknown' : 'not_applied' },
  );

const stale = (current: number, expected: number) =>
  new ConflictError(
    `expected_version ${expected} is stale: the policy is at version ${current}; re-read GET /ops/policy and retry`,
    { current_version: current },
  );

/**
 * The authoritative risk policy (docs/contract.md §7): Redis holds it, this replica caches it and
 * follows every change through pub/sub, re-reading every MODE_REFRESH_MS as a safety net. A
 * change is one script writing the policy and its ledger entry.
 */
@Injectable()
export class PolicyStore extends PolicyReader implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('PolicyStore');
  private readonly host = hostname();
  private view: PolicyView;
  private readonly follower: SharedStateFollower;
  private problem = '';
  private writeLock: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly repo: PolicyRepository,
    private readonly modeRepo: ModeRepository,
    private readonly ledger: LedgerRepository,
    private readonly mirror: LedgerMirror,
    private readonly signer: LedgerSigner,
    private readonly redis: RedisService,
    private readonly config: AppConfig,
    private readonly metrics: Metrics,
    private readonly clock: Clock,
    private readonly health: HealthParts,
  ) {
    super();
    this.view = { policy: envPolicy(config), version: 0 };
    this.follower = new SharedStateFollower(redis, {
      name: 'policy',
      channel: Keys.policyChannel,
      refreshMs: config.MODE_REFRESH_MS,
      startupWaitMs: STARTUP_SYNC_MS,
      read: () => this.readAndApply(),
      logger: this.logger,
    });
  }

  current(): PolicyView {
    return this.view;
  }

  async onModuleInit() {
    this.metrics.policyVersion.set(this.view.version);
    this.health.add('policy_sync', () => ({
      ok: true,
      detail: { version: this.view.version },
      ...(this.problem
        ? { degraded: `risk policy in Redis refused (${this.problem}); the last good one is used` }
        : {}),
    }));
    await this.follower.start((err) =>
      this.logger.warn({
        msg: 'initial policy read failed; using the environment until Redis answers',
        error: err.message,
      }),
    );
  }

  onApplicationShutdown() {
    this.follower.stop();
  }

  /** Re-reads the policy from Redis and applies it; see SharedStateFollower. */
  refresh(): Promise<void> {
    return this.follower.refresh();
  }

  /** One change (or revert) and its ledger entry, atomically; 409 on a stale expected version. */
  change(req: PolicyChangeRequest): Promise<PolicyChangeResult> {
    // a change that cannot be valid is refused before Redis is asked anything
    if (req.intent.op === 'set') {
      const pre = mergePolicy(this.view.policy, req.intent.change);
      if (!pre.ok && pre.problems.some((p) => !p.field.endsWith('min_budget_usd')))
        throw invalid(pre.problems);
    }
    return this.serialized(async () => {
      await this.mirror.restoreBeforeChange(false);
      for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
        const nowMs = this.clock.nowMs();
        const nowSec = Math.floor(nowMs / 1000);
        const day = utcDay(nowMs);
        const [snap, stored] = await Promise.all([
          this.modeRepo.readForChange(day),
          this.repo.read().then(async (h) => {
            if (h) return h;
            await this.repo.seed(envPolicy(this.config), nowSec, 'environment');
            return this.repo.read();
          }),
        ]).catch((err: Error) => {
          throw unavailable(err, false);
        });
        const version = storedVersion(stored);
        if (req.expectedVersion !== undefined && version !== req.expectedVersion)
          throw stale(version, req.expectedVersion);
        const current = (stored && parsePolicy(stored)) ?? this.view.policy;
        const target = await this.target(req.intent, current, version);
        const name: OperationName = req.intent.op === 'set' ? 'set-policy' : 'revert-policy';
        const entry = this.signer.seal({
          operation_id: formatOperationId(day, snap.seq + 1),
          operation_name: name,
          actor: req.actor,
          scope: 'policy',
          from_mode: snap.state.mode,
          to_mode: snap.state.mode,
          reason: req.reason,
          risk_class: 'high',
          outcome: 'applied',
          policy_before: policyJson(current),
          policy_after: policyJson(target),
          version: version + 1,
          git_commit: this.config.GIT_COMMIT,
          hostname: this.host,
          timestamp: nowSec,
          prev_hash: snap.head,
        });
        const res = await this.repo
          .change({
            expectedVersion: version,
            expectedHead: snap.head,
            seqKeyDay: day,
            seq: snap.seq + 1,
            policy: target,
            changedAt: nowSec,
            changedBy: req.actor,
            entry,
          })
          .catch((err: Error) => {
            throw unavailable(err, true);
          });
        if (!res.ok) {
          if (res.conflict === 'STALE' && req.expectedVersion !== undefined) {
            throw stale(Number(res.found), req.expectedVersion);
          }
          this.logger.debug({
            msg: 'policy change raced another; retrying',
            conflict: res.conflict,
            attempt,
          });
          continue;
        }
        this.metrics.policyChanges.inc();
        this.logger.log(chainHeadLine(entry));
        this.logger.log({
          msg: `${name}: version ${entry.version}`,
          operation_id: entry.operation_id,
          operation_name: name,
          actor: req.actor,
          version: entry.version,
          policy_before: entry.policy_before,
          policy_after: entry.policy_after,
        });
        await this.mirror.recordWritten(entry);
        await this.refresh().catch(() => undefined);
        return { policy: target, version: entry.version, operation_id: entry.operation_id, entry };
      }
      throw new ConflictError('other changes kept landing first; re-read GET /ops/policy and retry');
    });
  }

  /** The parameters a change leads to: the merge of a set, or those of the version reverted to. */
  private async target(intent: PolicyIntent, current: RiskPolicy, version: number): Promise<RiskPolicy> {
    if (intent.op === 'set') {
      const merged = mergePolicy(current, intent.change);
      if (!merged.ok) throw invalid(merged.problems);
      return merged.policy;
    }
    const to = intent.toVersion ?? version - 1;
    if (to < 0 || to >= version) {
      throw invalid([
        {
          field: 'to_version',
          message:
            version === 0
              ? 'to_version: the policy was never changed; there is nothing to revert to'
              : `to_version must be below the current version ${version}`,
        },
      ]);
    }
    // version N's parameters are the `after` of the entry that made N, or the `before` of N + 1
    const hit = await this.ledger
      .findNewest((e) => isPolicyOperation(e.operation_name) && (e.version === to || e.version === to + 1))
      .catch((err: Error) => {
        throw unavailable(err, false);
      });
    const raw = hit
      ? hit.entry.version === to
        ? hit.entry.policy_after
        : hit.entry.policy_before
      : undefined;
    let policy: RiskPolicy | undefined;
    try {
      policy = typeof raw === 'string' ? parsePolicy(JSON.parse(raw) as Record<string, unknown>) : undefined;
    } catch {
      policy = undefined;
    }
    if (!policy) {
      throw invalid([
        { field: 'to_version', message: `to_version: the ledger holds no policy of version ${to}` },
      ]);
    }
    return policy;
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.writeLock.then(fn, fn);
    this.writeLock = run.catch(() => undefined);
    return run;
  }

  private async readAndApply() {
    let h = await this.repo.read();
    if (!h) {
      if (await this.repo.seed(envPolicy(this.config), this.clock.nowSec(), 'environment')) {
        this.logger.warn({ msg: 'no risk policy in Redis; seeded from the environment' });
      }
      h = await this.repo.read();
    }
    const policy = h ? parsePolicy(h) : undefined;
    const version = storedVersion(h);
    if (!policy) {
      // a policy another service mangled is refused: the last good one keeps budgets as they were
      const problem = `${Keys.policy} does not hold a valid policy`;
      if (problem !== this.problem) this.logger.error({ msg: 'risk policy in Redis refused', problem });
      this.problem = problem;
      return;
    }
    this.problem = '';
    if (version < this.view.version) {
      this.metrics.stateLost.inc();
      this.logger.error({
        msg: `shared policy state lost: the version went from ${this.view.version} back to ${version}`,
        action: 'check GET /ops/ledger and set the policy again with PUT /ops/policy',
      });
    }
    const prev = this.view;
    this.view = {
      policy,
      version,
      ...(h?.changed_at && /^[0-9]+$/.test(h.changed_at) ? { changed_at: Number(h.changed_at) } : {}),
      ...(h?.changed_by ? { changed_by: h.changed_by } : {}),
      ...(h?.operation_id ? { operation_id: h.operation_id } : {}),
    };
    this.metrics.policyVersion.set(version);
    if (prev.version !== version) {
      this.logger.log({ msg: `risk policy is at version ${version}`, version, policy });
    }
  }
}
