/**
 * The layer rule of docs/architecture.md: features → platform → core, downwards only.
 * Run by `npm run lint` (so by `npm test`); test/ops-kit checks that a wrong import fails it.
 */
const FEATURES = '(budget|governor-gate|ops|health)';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A cycle makes the load order matter and the layers meaningless.',
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'core-imports-only-core',
      severity: 'error',
      comment: 'src/core holds pure rules: nothing of the project outside core.',
      from: { path: '^src/core/' },
      to: { path: '^src/', pathNot: '^src/core/' },
    },
    {
      name: 'core-is-framework-free',
      severity: 'error',
      comment: 'src/core has no Nest, no ioredis.',
      from: { path: '^src/core/' },
      to: { path: 'node_modules/(@nestjs|ioredis)' },
    },
    {
      name: 'platform-imports-only-core-and-platform',
      severity: 'error',
      comment: 'src/platform stands under every feature and may not reach up into one.',
      from: { path: '^src/platform/' },
      to: { path: '^src/', pathNot: '^src/(core|platform)/' },
    },
    {
      name: 'feature-imports-only-core-platform-itself',
      severity: 'error',
      comment: 'A feature composes core and platform; it never reaches into another feature.',
      from: { path: `^src/${FEATURES}/` },
      to: { path: '^src/', pathNot: [`^src/$1/`, '^src/(core|platform)/'] },
    },
    {
      name: 'health-is-a-leaf',
      severity: 'error',
      comment: 'Only the app module wires src/health in; nothing else imports it.',
      from: { path: '^src/', pathNot: ['^src/health/', '^src/app\\.module\\.ts$'] },
      to: { path: '^src/health/' },
    },
    {
      name: 'entry-points-import-no-feature',
      severity: 'error',
      comment: 'The CLI and the tools run without the app: core and platform only.',
      from: { path: '^src/(cli|tools)/' },
      to: { path: `^src/${FEATURES}/` },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.spec\\.ts$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
    },
  },
};
