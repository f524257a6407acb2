import { bundleOutcome, shouldContinue, type CaseOutcome } from '../../src/domain/test-cases';

test('every case accepted: accepted with full score', () => {
  expect(bundleOutcome([{ verdict: 'accepted' }, { verdict: 'accepted' }])).toMatchObject({
    verdict: 'accepted',
    decidingCase: null,
    score: 1,
  });
});

test('the first case not accepted decides the verdict, skipped cases do not', () => {
  const cases: CaseOutcome[] = [
    { verdict: 'accepted' },
    { verdict: 'skipped' },
    { verdict: 'time_limit_exceeded' },
    { verdict: 'wrong_answer' },
  ];
  const outcome = bundleOutcome(cases);
  expect(outcome.verdict).toBe('time_limit_exceeded');
  expect(outcome.decidingCase).toBe(3);
  expect(outcome.counts).toMatchObject({ accepted: 1, skipped: 1, time_limit_exceeded: 1, wrong_answer: 1, runtime_error: 0 });
});

test('the score is the weighted share, with partial credit from a checker clamped to 0..1', () => {
  expect(
    bundleOutcome([
      { verdict: 'accepted', weight: 3 },
      { verdict: 'wrong_answer', weight: 1 },
    ]).score,
  ).toBe(0.75);
  expect(bundleOutcome([{ verdict: 'accepted' }, { verdict: 'wrong_answer', score: 0.5 }]).score).toBe(0.75);
  expect(
    bundleOutcome([
      { verdict: 'accepted', score: 7 },
      { verdict: 'wrong_answer', score: -1 },
    ]).score,
  ).toBe(0.5);
  expect(bundleOutcome([{ verdict: 'accepted' }, { verdict: 'skipped', score: 1 }]).score).toBe(0.5);
  expect(bundleOutcome([{ verdict: 'accepted', weight: 0 }]).score).toBe(0);
  expect(bundleOutcome([{ verdict: 'accepted' }, { verdict: 'accepted' }, { verdict: 'wrong_answer' }]).score).toBe(0.666667);
});

test('an empty bundle is a programming error', () => {
  expect(() => bundleOutcome([])).toThrow(RangeError);
});

test('first_failure stops after the first case not accepted; all never stops', () => {
  expect(shouldContinue('first_failure', [{ verdict: 'accepted' }])).toBe(true);
  expect(shouldContinue('first_failure', [{ verdict: 'accepted' }, { verdict: 'runtime_error' }])).toBe(false);
  expect(shouldContinue('all', [{ verdict: 'runtime_error' }])).toBe(true);
});
