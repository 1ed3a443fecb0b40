// Type-aware lint with import boundaries between folders (see docs/design/layout.md).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeBuiltins = {
  group: ['node:*'],
  message: 'api/ and pure files must not import node built-ins (they are bundled for the dashboard).',
};
const outsideApi = (from) => ({
  group: [`${from}/*`],
  message: 'api/ imports nothing else of ours.',
});

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'bin/**', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/only-throw-error': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true },
      ],
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // api/ (except the HTTP client) is pure: no node built-ins, nothing else of ours.
    files: ['src/api/**/*.ts'],
    ignores: ['src/api/client/**', 'src/api/**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            nodeBuiltins,
            outsideApi('../store'),
            outsideApi('../apiserver'),
            outsideApi('../machinery'),
            outsideApi('../cli'),
            outsideApi('../controllers'),
          ],
        },
      ],
    },
  },
  {
    files: ['src/api/client/**/*.ts'],
    ignores: ['src/api/**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['../../store/*', '../../apiserver/*', '../../cli/*', '../../controllers/*'],
              message: 'the client depends only on api/.',
            },
          ],
        },
      ],
    },
  },
  {
    // store/ imports only api/.
    files: ['src/store/**/*.ts'],
    ignores: ['src/store/**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                '../apiserver/*',
                '../machinery/*',
                '../cli/*',
                '../controllers/*',
                '../scheduler/*',
                '../agent/*',
              ],
              message: 'store/ imports only api/.',
            },
          ],
        },
      ],
    },
  },
  {
    // Pure reconcilers: no node built-ins, no store, no apiserver.
    files: ['src/controllers/*/reconcile.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            nodeBuiltins,
            { group: ['../../store/*', '../../apiserver/*'], message: 'reconcile.ts is pure.' },
          ],
        },
      ],
    },
  },
  {
    // The scheduler core is pure: decisions over the cache, no node built-ins, no store, no I/O.
    files: [
      'src/scheduler/framework/**/*.ts',
      'src/scheduler/plugins/**/*.ts',
      'src/scheduler/testing/**/*.ts',
      'src/scheduler/cache.ts',
      'src/scheduler/core.ts',
      'src/scheduler/preemption.ts',
    ],
    ignores: ['src/scheduler/**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            nodeBuiltins,
            {
              group: [
                '../store/*',
                '../../store/*',
                '../apiserver/*',
                '../../apiserver/*',
                '../machinery/*',
                '../../machinery/*',
              ],
              message: 'the scheduler core is pure: the shell (scheduler.ts, queue.ts) does the I/O.',
            },
          ],
        },
      ],
    },
  },
  {
    // The agent talks to the control plane only over HTTP, like a remote agent.
    files: ['src/agent/**/*.ts'],
    ignores: ['src/agent/**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                '../store/*',
                '../../store/*',
                '../apiserver/*',
                '../../apiserver/*',
                '../../../apiserver/*',
              ],
              message: 'the agent reaches the control plane only through the API client.',
            },
          ],
        },
      ],
    },
  },
  {
    // Pure agent decisions: the pod step, pod status and node status take time and observations as input.
    files: [
      'src/agent/pod/step.ts',
      'src/agent/pod/status.ts',
      'src/agent/pod/pod-view.ts',
      'src/agent/node-status.ts',
      'src/agent/simulate/nodes.ts',
      'src/agent/simulate/pod-sim.ts',
      'src/agent/simulate/schedule.ts',
      'src/agent/simulate/ip-pool.ts',
      'src/agent/simulate/options.ts',
      'src/agent/proxy/ruleset.ts',
      'src/agent/proxy/acks.ts',
      'src/agent/dns/message.ts',
      'src/agent/dns/zone.ts',
      'src/agent/dns/config.ts',
    ],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            nodeBuiltins,
            {
              group: ['../../store/*', '../../apiserver/*', '../runtime/runc*', '../image/store*'],
              message: 'step.ts, status.ts and node-status.ts are pure.',
            },
          ],
        },
      ],
    },
  },
  {
    // Tests read loosely-typed JSON responses; `any` there keeps assertions readable.
    files: ['**/*.test.ts', 'test/**/*.ts', 'bench/**/*.ts', 'src/testkit/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
);
