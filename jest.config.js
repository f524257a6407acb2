/** Integration tests share one Temporal dev server and one PostgreSQL database (see test/support/global-setup.ts). */
module.exports = {
  testEnvironment: 'node',
  // Type checking (tsc, the build) resolves modules as Node does, exports maps included; tests are
  // transpiled as CommonJS (see tsconfig.jest.json), and `.js` in a relative import names the `.ts` file.
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.jest.json' }] },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 120000,
  verbose: true,
};
