/**
 * Cost of one mode change (ModeChanges.change: read, seal, the atomic script, the mirror) with and
 * without ledger signing, plus the seal alone and a full verify of the resulting ledger. Against a
 * private redis-server; sequential changes alternating enforce/shadow, each one ledger entry.
 *
 *   node --import @swc-node/register/esm-register bench/mode-change.ts [--smoke] [--changes=N]
 *
 * The gate never touches the ledger, so signing costs it nothing; this measures the write side only.
 */
import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GENESIS_HASH, sealEntry, type UnsealedEntry } from '../src/core/ledger/ledger-entry.js';
import { loadSigningKey, signHash } from '../src/core/ledger/ledger-keys.js';
import { LedgerService } from '../src/ops/ledger/ledger.service.js';
import { ModeChanges } from '../src/ops/mode/mode-changes.js';
import { createTestApp, makeTestKeyPair } from '../test/support/app.js';
import { startTestRedis } from '../test/support/redis-server.js';

const args = process.argv.slice(2);
const smoke = args.includes('--smoke');
const changesArg = args.find((a) => a.startsWith('--changes='));
const CHANGES = changesArg ? Number(changesArg.split('=')[1]) : smoke ? 40 : 400;

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const fmt = (ms: number) => ms.toFixed(3);

async function run(signed: boolean, mirror: boolean, quiet = false) {
  const redis = await startTestRedis();
  const dir = mkdtempSync(join(tmpdir(), 'p28-bench-mode-'));
  const keys = makeTestKeyPair();
  const t = await createTestApp(
    {
      REDIS_URL: redis.url,
      LOG_LEVEL: 'warn',
      BUDGET_COMPUTE_INTERVAL_SEC: '3600',
      ...(mirror ? { LEDGER_FILE: join(dir, 'ledger.jsonl') } : {}),
      ...(signed
        ? { LEDGER_SIGNING_KEY_FILE: keys.privateKeyFile, LEDGER_TRUSTED_KEYS_FILE: keys.trustedKeysFile }
        : {}),
    },
    { unsigned: !signed },
  );
  try {
    const changes = t.app.get(ModeChanges);
    const times: number[] = [];
    for (let i = 0; i < CHANGES; i++) {
      const started = performance.now();
      await changes.change({
        intent: { op: 'set-mode', mode: i % 2 ? 'shadow' : 'enforce' },
        actor: 'bench',
        reason: `bench change ${i}`,
      });
      times.push(performance.now() - started);
    }
    const v0 = performance.now();
    const report = await t.app.get(LedgerService).verify();
    const verifyMs = performance.now() - v0;
    if (!report.ok || report.entries !== CHANGES)
      throw new Error(`verify: ${JSON.stringify(report).slice(0, 300)}`);
    const mean = times.reduce((a, b) => a + b, 0) / times.length;
    if (!quiet)
      console.log(
        `${signed ? 'signed  ' : 'unsigned'} ${mirror ? 'mirror' : 'no mirror'}: ${CHANGES} changes, mean ${fmt(mean)} ms, p50 ${fmt(pct(times, 50))} ms, p99 ${fmt(pct(times, 99))} ms; verify of ${report.entries} entries ${fmt(verifyMs)} ms`,
      );
    return { mean, p50: pct(times, 50) };
  } finally {
    await t.close();
    await redis.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function sealCost() {
  const key = loadSigningKey('bench', makeTestKeyPair().privateKeyFile);
  const base: UnsealedEntry = {
    operation_id: 'OPS-2026-01-01-001',
    operation_name: 'set-mode',
    actor: 'bench',
    scope: 'global',
    from_mode: 'shadow',
    to_mode: 'enforce',
    reason: 'seal cost',
    risk_class: 'high',
    outcome: 'applied',
    version: 1,
    git_commit: 'x',
    hostname: 'h',
    timestamp: 1,
    prev_hash: GENESIS_HASH,
  };
  const n = smoke ? 500 : 5000;
  let t0 = performance.now();
  for (let i = 0; i < n; i++) sealEntry({ ...base, version: i + 1 });
  const hashUs = ((performance.now() - t0) / n) * 1000;
  t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const e = sealEntry({ ...base, version: i + 1, signer: key.signer });
    signHash(e.hash, key);
  }
  const signUs = ((performance.now() - t0) / n) * 1000;
  console.log(
    `seal alone: hash ${hashUs.toFixed(1)} µs, hash + Ed25519 signature ${signUs.toFixed(1)} µs per entry`,
  );
}

sealCost();
// alternated, mirror off (its fsync per entry is the noisiest part), then once each with the mirror
const results = { unsigned: [] as number[], signed: [] as number[] };
// warm-up (JIT, connections), not reported
await run(false, false, true);
await run(true, false, true);
for (let round = 0; round < (smoke ? 1 : 3); round++) {
  results.unsigned.push((await run(false, false)).p50);
  results.signed.push((await run(true, false)).p50);
}
if (!smoke) {
  await run(false, true);
  await run(true, true);
}
const median = (xs: number[]) => pct(xs, 50);
console.log(
  `signing adds ${fmt(median(results.signed) - median(results.unsigned))} ms to the median change (p50 ${fmt(median(results.unsigned))} -> ${fmt(median(results.signed))} ms, mirror off)`,
);
