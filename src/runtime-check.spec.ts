import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MIN_NODE_VERSION, nodeVersionProblem } from './runtime-check.js';

describe('nodeVersionProblem', () => {
  it('refuses a Node older than the supported one, naming both versions and what to do', () => {
    for (const old of ['20.18.3', '20.11.1', '18.20.4', '19.9.0', '20.19.0-pre']) {
      const problem = nodeVersionProblem(old);
      expect(problem, old).toContain(`Node ${old}`);
      expect(problem).toContain(`${MIN_NODE_VERSION} or newer`);
      expect(problem).toMatch(/NODE_BIN/);
    }
  });

  it('accepts the supported version and anything newer', () => {
    for (const ok of ['20.19.0', '20.19.5', '20.20.2', '21.0.0', '22.12.0', '24.1.0', '100.0.0'])
      expect(nodeVersionProblem(ok), ok).toBeUndefined();
  });

  it('refuses a version it cannot read rather than guessing', () => {
    for (const bad of ['', 'v', 'twenty', '20', '20.x.1', 'constructor'])
      expect(nodeVersionProblem(bad), bad).toMatch(/cannot tell/);
  });

  it('is the minimum that package.json engines declares', () => {
    const pkg = JSON.parse(readFileSync(resolve(import.meta.dirname, '../package.json'), 'utf8')) as {
      engines: { node: string };
    };
    expect(pkg.engines.node).toBe(`>=${MIN_NODE_VERSION}`);
  });
});
