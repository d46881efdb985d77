// Lint rules of the npm package (flat config): ESLint's recommended set for ES modules that run in
// Node, Deno, Bun, workerd and browsers. Run with `npm run lint` (also a step of tests/run.sh);
// formatting is prettier's job (`npm run format`).
import js from '@eslint/js';
import globals from 'globals';

export default [
  { ignores: ['dist/', 'dist-*/', 'node_modules/', 'bench/compare/node_modules/', 'test/fixtures/.gen-*'] },
  js.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 'latest',
      sourceType: 'module',
      globals: { ...globals.node, ...globals.browser, ...globals.serviceworker, Deno: 'readonly', Bun: 'readonly' },
    },
    rules: {
      // `_`-prefixed names are deliberately unused (destructuring a key away, ignored parameters).
      'no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      'no-empty': ['error', { allowEmptyCatch: false }],
    },
  },
];
