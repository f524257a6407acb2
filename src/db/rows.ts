/**
 * The database boundary: rows read back from PostgreSQL become the domain's types here, by
 * parsing, never by casting. Prisma types these columns only as `string` and `JsonValue`;
 * PostgreSQL's CHECK constraints keep the text columns within the vocabulary, but JSON columns,
 * rows written before a constraint existed, or a constraint that drifted from the constants
 * would otherwise reach the API and the sandbox under a type they do not have. The schemas are
 * built from the domain's constants, so there is one vocabulary.
 */
import { z } from 'zod';
import type { Evaluation, EvaluationCaseResult, EvaluationEvent, TestSet, TestSetCase } from '../generated/prisma/client';
import { BUNDLE_MODES } from '../domain/test-cases';
import { isAnyCheckerSpec, type AnyCheckerSpec } from '../domain/checker-program';
import {
  CASE_STATUSES,
  EVENT_TYPES,
  LANGUAGES,
  REVIEW_DECISIONS,
  SEVERITIES,
  STATUSES,
  VERDICTS,
  type Finding,
  type Limits,
} from '../domain/evaluation';

const limitsSchema = z.object({
  cpuTimeMs: z.number().int().positive(),
  wallTimeMs: z.number().int().positive(),
  memoryMb: z.number().int().positive(),
  maxProcesses: z.number().int().positive(),
  maxOutputBytes: z.number().int().positive(),
}) satisfies z.ZodType<Limits>;

const findingSchema = z.object({
  ruleId: z.string(),
  severity: z.enum(SEVERITIES),
  message: z.string(),
  line: z.number().int(),
  column: z.number().int(),
  file: z.string().optional(),
}) satisfies z.ZodType<Finding>;

/** The columns of `evaluations` whose Prisma type is wider than the domain's. */
const evaluationColumns = z.object({
  status: z.enum(STATUSES),
  language: z.enum(LANGUAGES),
  verdict: z.enum(VERDICTS).nullable(),
  reviewDecision: z.enum(REVIEW_DECISIONS).nullable(),
  limits: limitsSchema,
  findings: z.array(findingSchema),
  metadata: z.record(z.string(), z.string()),
  files: z.array(z.object({ path: z.string(), base64: z.string() })).nullable(),
  bundleMode: z.enum(BUNDLE_MODES).nullable(),
  caseCounts: z.record(z.string(), z.number().int()).nullable(),
});

/** The columns of `evaluation_case_results` whose Prisma type is wider than the domain's. */
const caseResultColumns = z.object({
  status: z.enum(CASE_STATUSES),
  verdict: z.enum(VERDICTS).nullable(),
  difference: z
    .object({ unit: z.enum(['line', 'token', 'byte']), index: z.number().int(), expected: z.string(), actual: z.string() })
    .nullable(),
});
type CaseResultColumns = z.infer<typeof caseResultColumns>;
/** An `evaluation_case_results` row as the rest of the service sees it. */
export type CaseResultRow = Omit<EvaluationCaseResult, keyof CaseResultColumns> & CaseResultColumns;

export function parseCaseResultRow(row: EvaluationCaseResult): CaseResultRow {
  return { ...row, ...parseColumns('evaluation_case_results', `${row.evaluationId}#${row.position}`, caseResultColumns, row) };
}

/** The columns of `evaluation_events` whose Prisma type is wider than the domain's. */
const eventColumns = z.object({
  type: z.enum(EVENT_TYPES),
  data: z.record(z.string(), z.unknown()),
});

/** The columns of `test_sets` and `test_set_cases` whose Prisma type is wider than the domain's. */
const testSetColumns = z.object({
  checker: z.custom<AnyCheckerSpec>(isAnyCheckerSpec, { message: 'not a known checker' }),
});
const testSetCaseColumns = z.object({ limits: limitsSchema.partial().strict().nullable() });

type EvaluationColumns = z.infer<typeof evaluationColumns>;
type TestSetColumns = z.infer<typeof testSetColumns>;
type TestSetCaseColumns = z.infer<typeof testSetCaseColumns>;
export type TestSetRow = Omit<TestSet, keyof TestSetColumns> & TestSetColumns;
export type TestSetCaseRow = Omit<TestSetCase, keyof TestSetCaseColumns> & TestSetCaseColumns;
type EventColumns = z.infer<typeof eventColumns>;

/** An `evaluations` row as the rest of the service sees it. */
export type EvaluationRow = Omit<Evaluation, keyof EvaluationColumns> & EvaluationColumns;
/** An `evaluation_events` row as the rest of the service sees it. */
export type EventRow = Omit<EvaluationEvent, keyof EventColumns> & EventColumns;

/** A stored row that does not fit the domain's types: which row, which columns, and why. */
export class InvalidRowError extends Error {
  override readonly name = 'InvalidRowError';
  /** The columns that failed, in the order of their first problem, e.g. ['status', 'limits']. */
  readonly columns: string[];

  constructor(
    readonly table: string,
    readonly rowId: string,
    readonly issues: readonly z.core.$ZodIssue[],
  ) {
    const columns = [...new Set(issues.map((issue) => String(issue.path[0] ?? '(row)')))];
    super(`${table} row ${rowId} cannot be read: ${issues.map(describeIssue).join('; ')}`);
    this.columns = columns;
  }
}

export function parseEvaluationRow(row: Evaluation): EvaluationRow {
  return { ...row, ...parseColumns('evaluations', row.id, evaluationColumns, row) };
}

export function parseEventRow(row: EvaluationEvent): EventRow {
  return { ...row, ...parseEventColumns(row) };
}

export function parseTestSetRow(row: TestSet): TestSetRow {
  return { ...row, ...parseColumns('test_sets', row.id, testSetColumns, row) };
}

export function parseTestSetCaseRow(row: TestSetCase): TestSetCaseRow {
  return { ...row, ...parseColumns('test_set_cases', `${row.testSetId}#${row.position}`, testSetCaseColumns, row) };
}

/** For reads that select only some columns of an event (its id is needed to name it in an error). */
export function parseEventColumns(row: { id: bigint; type: string; data: unknown }): EventColumns {
  return parseColumns('evaluation_events', row.id.toString(), eventColumns, row);
}

function parseColumns<S extends z.ZodType>(table: string, rowId: string, schema: S, row: unknown): z.infer<S> {
  // reportInput: the error shows the offending value, which is what an operator needs to fix the row.
  const result = schema.safeParse(row, { reportInput: true });
  if (!result.success) throw new InvalidRowError(table, rowId, result.error.issues);
  return result.data;
}

const SHOWN_VALUE_CHARS = 80;

function describeIssue(issue: z.core.$ZodIssue): string {
  const [column, ...within] = issue.path;
  const where = within.length > 0 ? ` at ${within.map((key) => (typeof key === 'number' ? `[${key}]` : `.${String(key)}`)).join('')}` : '';
  const input = 'input' in issue && issue.input !== undefined ? ` (found ${shown(issue.input)})` : '';
  return `column "${String(column ?? '(row)')}"${where}: ${issue.message}${input}`;
}

function shown(value: unknown): string {
  const text = JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? String(value);
  return text.length > SHOWN_VALUE_CHARS ? `${text.slice(0, SHOWN_VALUE_CHARS)}…` : text;
}
