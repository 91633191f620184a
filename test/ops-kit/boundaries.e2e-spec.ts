import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

/**
 * The layer rule of docs/architecture.md is enforced by `npm run lint:layers` (dependency-cruiser
 * with the project's config). A tiny tree of one file per layer, clean or with one wrong import,
 * shows the check passes the clean tree and fails each wrong import naming its rule.
 */
const ROOT = resolve(import.meta.dirname, '../..');
const CONFIG = join(ROOT, '.dependency-cruiser.cjs');
const DEPCRUISE = join(ROOT, 'node_modules/.bin/depcruise');

const CLEAN: Record<string, string> = {
  'src/core/rule.ts': `export const rule = 1;\n`,
  'src/platform/infra.ts': `import { rule } from '../core/rule.js';\nexport const infra = rule;\n`,
  'src/budget/engine.ts': `import { infra } from '../platform/infra.js';\nexport const engine = infra;\n`,
  'src/ops/store.ts': `import { rule } from '../core/rule.js';\nexport const store = rule;\n`,
  'src/health/probe.ts': `import { infra } from '../platform/infra.js';\nexport const probe = infra;\n`,
  'src/app.module.ts':
    `import { engine } from './budget/engine.js';\nimport { store } from './ops/store.js';\n` +
    `import { probe } from './health/probe.js';\nexport const all = [engine, store, probe];\n`,
};

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

function cruise(extra: Record<string, string>): { status: number | null; out: string } {
  dir = mkdtempSync(join(tmpdir(), 'p28-layers-'));
  const files = { ...CLEAN, ...extra };
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext' },
      include: ['src'],
    }),
  );
  const r = spawnSync(DEPCRUISE, ['src', '--config', CONFIG], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 60_000,
    // colour codes would split "error RULE:" (an inherited FORCE_COLOR turns them on)
    env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' },
  });
  // eslint-disable-next-line no-control-regex
  const plain = (text: string) => text.replace(/\u001b\[[0-9;]*m/g, '');
  return { status: r.status, out: plain(`${r.stdout}${r.stderr}`) };
}

describe('layer boundaries (npm run lint:layers)', () => {
  it('passes a tree that imports downwards only', () => {
    const r = cruise({});
    expect(r.out).toContain('no dependency violations');
    expect(r.status).toBe(0);
  });

  it.each([
    [
      'core-imports-only-core',
      'src/core/rule.ts',
      `import '../platform/infra.js';\nexport const rule = 1;\n`,
    ],
    [
      'platform-imports-only-core-and-platform',
      'src/platform/infra.ts',
      `import '../budget/engine.js';\nexport const infra = 1;\n`,
    ],
    [
      'feature-imports-only-core-platform-itself',
      'src/budget/engine.ts',
      `import { store } from '../ops/store.js';\nexport const engine = store;\n`,
    ],
    [
      'health-is-a-leaf',
      'src/ops/store.ts',
      `import { probe } from '../health/probe.js';\nexport const store = probe;\n`,
    ],
    [
      'no-circular',
      'src/core/rule.ts',
      `import { other } from './other.js';\nexport const rule = 1;\nexport const twice = other;\n`,
    ],
  ])('fails on a wrong import, naming %s', (rule, path, text) => {
    const extra: Record<string, string> = { [path]: text };
    if (rule === 'no-circular')
      extra['src/core/other.ts'] = `import { rule } from './rule.js';\nexport const other = rule;\n`;
    const r = cruise(extra);
    expect(r.status).not.toBe(0);
    expect(r.out).toContain(`error ${rule}:`);
  });

  it('passes the project itself', () => {
    const r = spawnSync(DEPCRUISE, ['src', '--config', CONFIG], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(`${r.stdout}${r.stderr}`).toContain('no dependency violations');
    expect(r.status).toBe(0);
  });
});
