import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/* The repository must stand on its own: a clone has no sibling folders, so every reference to a file
 * outside it is a dead link, and the contract the code cites must be the one in docs/. */

const root = resolve(import.meta.dirname, '../..');
const OUTSIDE = ['..', 'shared', ''].join('/'); // spelled in parts so this file does not match itself

function repoFiles(): string[] {
  const r = spawnSync('git', ['ls-files', '-co', '--exclude-standard'], { cwd: root, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout
    .split('\n')
    .filter((f) => f.length > 0 && existsSync(join(root, f)))
    .filter((f) => !f.startsWith('node_modules/') && f !== 'package-lock.json');
}

describe('the repository links nothing outside itself', () => {
  const files = repoFiles();

  it(`no file cites ${OUTSIDE}`, () => {
    expect(files.length).toBeGreaterThan(50);
    const citing = files.filter((f) => readFileSync(join(root, f), 'utf8').includes(OUTSIDE));
    expect(citing).toEqual([]);
  });

  it('every relative link in a Markdown file points at a file inside the repository', () => {
    const broken: string[] = [];
    for (const f of files.filter((x) => x.endsWith('.md'))) {
      const text = readFileSync(join(root, f), 'utf8');
      for (const m of text.matchAll(/\]\(([^)\s#]+)(?:#[^)]*)?\)/g)) {
        const target = m[1];
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
        const abs = resolve(dirname(join(root, f)), target);
        if (relative(root, abs).startsWith('..') || !existsSync(abs)) broken.push(`${f}: ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('the README links the contract and the integration guide, and both exist', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    for (const doc of ['docs/contract.md', 'docs/integration.md']) {
      expect(readme).toContain(`](${doc})`);
      expect(existsSync(join(root, doc)), doc).toBe(true);
    }
    expect(readFileSync(join(root, 'docs/contract.md'), 'utf8')).toMatch(/^## 3\. Gate 0/m);
  });
});
