import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

// One project per test layer (docs/test-map.md says which folder holds what); every project
// extends this root, so the swc plugin, the setup file and the timeouts apply to all of them.
const layer = (name: string, include: string) => ({
  extends: true as const,
  test: { name, include: [include] },
});

export default defineConfig({
  plugins: [swc.vite({ module: { type: 'es6' } })],
  test: {
    environment: 'node',
    setupFiles: ['./test/support/setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // e2e suites each start their own redis-server; keep parallelism modest on 2-core machines
    maxWorkers: 2,
    reporters: ['default'],
    projects: [
      layer('unit', 'src/**/*.spec.ts'),
      layer('medium', 'test/medium/**/*.e2e-spec.ts'),
      layer('e2e', 'test/e2e/**/*.e2e-spec.ts'),
      layer('system', 'test/system/**/*.e2e-spec.ts'),
      layer('ops-kit', 'test/ops-kit/**/*.e2e-spec.ts'),
    ],
  },
});
