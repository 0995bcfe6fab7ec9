import { defineConfig } from 'vitest/config';

// One `vitest run` runs every project. Unit specs sit next to the code (*.spec.ts), integration specs
// talk to the real NATS, Postgres and Redis (*.int-spec.ts), e2e specs start the built services as
// separate processes (test/e2e/*.e2e.ts).
const sourceConditions = { conditions: ['switchboard-source', 'node', 'import', 'default'] };

export default defineConfig({
  resolve: sourceConditions,
  ssr: { resolve: { conditions: ['switchboard-source'], externalConditions: ['switchboard-source'] } },
  test: {
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['services/**/*.spec.ts', 'libs/**/*.spec.ts', 'test/**/*.spec.ts', 'scripts/**/*.spec.ts', 'ui/src/**/*.spec.ts'], environment: 'node' },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['services/**/*.int-spec.ts', 'libs/**/*.int-spec.ts', 'scripts/**/*.int-spec.ts', 'test/fixtures/**/*.int-spec.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.e2e.ts'],
          globalSetup: ['test/e2e/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        extends: true,
        test: {
          // faults and hostile input (test/resilience): private brokers restarted, replicas killed, fuzzing; CI-sized
          // unless RESILIENCE_LOAD=full (npm run test:resilience)
          name: 'resilience',
          include: ['test/resilience/**/*.resilience.ts'],
          globalSetup: ['test/e2e/global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
          fileParallelism: false,
          // after the other projects: its figures (failure rates, recovery times) mean nothing on a machine they load
          sequence: { groupOrder: 1 },
        },
      },
      {
        extends: true,
        test: {
          // the official MCP conformance suite against the gateway and its fixture (test/conformance)
          name: 'conformance',
          include: ['test/conformance/**/*.conformance.ts'],
          globalSetup: ['test/e2e/global-setup.ts'],
          testTimeout: 300_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
