/**
 * The fast lane (`npm run test:unit`): every test that needs no PostgreSQL, no Temporal server
 * and no sandbox, so no global setup. The full suite (`npm test`) runs these too.
 */
const base = require('./jest.config');

module.exports = {
  testEnvironment: base.testEnvironment,
  transform: base.transform,
  moduleNameMapper: base.moduleNameMapper,
  testTimeout: 30000,
  testMatch: [
    '<rootDir>/test/unit/**/*.test.ts',
    '<rootDir>/test/config/**/*.test.ts',
    '<rootDir>/test/scanner/**/*.test.ts',
    '<rootDir>/test/replay/**/*.test.ts',
    '<rootDir>/test/webhooks/signature.test.ts',
    '<rootDir>/test/webhooks/ssrf-guard.test.ts',
    '<rootDir>/test/webhooks/deliver.test.ts',
    '<rootDir>/test/sandbox/protocol.test.ts',
    '<rootDir>/test/sandbox/languages.test.ts',
    '<rootDir>/test/sandbox/run-state.test.ts',
    '<rootDir>/test/sandbox/stage-verdict.test.ts',
    '<rootDir>/test/ratelimit/capacity.test.ts',
    '<rootDir>/test/infra/dockerfile.test.ts',
  ],
};
