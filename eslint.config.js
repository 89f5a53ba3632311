import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'packages/*/dist/', 'node_modules/', '.cache/', 'engine/public/vendor/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['actors/**/*.ts', 'cluster/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      'no-restricted-imports': ['error', { paths: ['kafkajs', 'ioredis', 'pg', 'uWebSockets.js', 'ws'] }],
    },
  },
  {
    // Arrows point down: adapters implement the core's ports and never reach into the runtime
    // above them; the runtime never imports the harness.
    files: ['adapters/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['**/engine/*', '**/loadtest/*'] }] },
  },
  {
    files: ['engine/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['**/loadtest/*'] }] },
  },
  {
    files: ['scripts/**/*.mjs', 'bin/**/*.mjs'],
    languageOptions: { globals: { URL: 'readonly', console: 'readonly', process: 'readonly' } },
  },
  {
    files: ['engine/public/**/*.js'],
    languageOptions: { globals: { window: 'readonly', document: 'readonly', WebSocket: 'readonly', fetch: 'readonly', requestAnimationFrame: 'readonly', location: 'readonly', performance: 'readonly', console: 'readonly', localStorage: 'readonly', URL: 'readonly' } },
  },
);
