import { isConnectionError, isDatabaseBusy } from '../../src/db/connection-errors';

test('a pool or transaction timeout is "busy", not "unreachable" and not a bug', () => {
  const transactionTimeout = Object.assign(new Error('Transaction API error: Unable to start a transaction in the given time.'), {
    code: 'P2028',
  });
  expect(isDatabaseBusy(transactionTimeout)).toBe(true);
  expect(isDatabaseBusy(Object.assign(new Error('Timed out fetching a new connection from the connection pool.'), { code: 'P2024' }))).toBe(
    true,
  );
  expect(isConnectionError(transactionTimeout)).toBe(false);
  expect(isDatabaseBusy(Object.assign(new Error('Unique constraint failed'), { code: 'P2002' }))).toBe(false);
  expect(isDatabaseBusy(null)).toBe(false);
});
