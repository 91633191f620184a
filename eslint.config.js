import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.data/**', '.test-build/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        fetch: 'readonly',
        AbortController: 'readonly',
        AbortSignal: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-properties': [
        'error',
        {
          object: 'process',
          property: 'env',
          message: 'Read configuration through AppConfig (src/platform/config).',
        },
      ],
    },
  },
  {
    // one builder for the contract's error body (docs/contract.md §5), so the copies cannot drift
    files: ['src/**/*.ts'],
    ignores: ['src/**/*.spec.ts', 'src/platform/http/error-body.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "Property[key.name='statusCode']:not(ObjectPattern > Property)",
          message: 'Build error bodies with errorBody() (src/platform/http/error-body.ts).',
        },
        {
          selector: "Property[key.value='statusCode']:not(ObjectPattern > Property)",
          message: 'Build error bodies with errorBody() (src/platform/http/error-body.ts).',
        },
      ],
    },
  },
  {
    files: ['src/platform/config/**', 'test/**', 'bench/**', 'scripts/**', 'vitest.config.ts'],
    rules: { 'no-restricted-properties': 'off' },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly' } },
  },
);
