/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // Type checking is done once by `npm run typecheck`; ts-jest only transpiles here.
  transform: { '^.+\\.ts$': 'ts-jest' },
  testTimeout: 60000,
  // Property-based tests run from a fixed seed (reproducible; FC_SEED=<n> explores another).
  setupFiles: ['<rootDir>/test/support/fastCheckSeed.ts'],
  // Integration suites start real servers; two workers fit a 2-core machine.
  maxWorkers: 2,
  reporters: ['default', '<rootDir>/scripts/jest-summary-reporter.js'],
};
