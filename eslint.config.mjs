import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.tools/**', '.local/**', 'bin/**', 'jest.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    files: ['scripts/**/*.js'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { module: 'writable', process: 'readonly', require: 'readonly' },
    },
  },
  {
    // Plain Node scripts next to the TypeScript (benchmarks, build and set-up helpers).
    files: ['bench/**/*.mjs', 'bench/**/*.cjs', 'scripts/**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', require: 'readonly', module: 'writable' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // The verdicts page (both hosts): plain browser JavaScript served as it is.
    files: ['src/app/page/**/*.js'],
    languageOptions: {
      sourceType: 'script',
      globals: { document: 'readonly', fetch: 'readonly', setTimeout: 'readonly', JSON: 'readonly' },
    },
  },
  {
    // Tests build hostile and malformed inputs on purpose.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // Orchestrators must be deterministic: no wall clock, no randomness.
    files: ['src/orchestrations/**/*.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'Use context.df.currentUtcDateTime in orchestrators.' },
        { object: 'Math', property: 'random', message: 'Orchestrators must be deterministic.' },
      ],
    },
  },
  {
    // The core is pure: no wall clock either; time is passed in.
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-properties': ['error', { object: 'Date', property: 'now', message: 'Pass time in as a value.' }],
      'no-restricted-imports': [
        'error',
        { patterns: ['@azure/*', 'node:fs', 'fs', 'node:http', 'node:https', 'http', 'https', 'node:net'] },
      ],
    },
  },
);
