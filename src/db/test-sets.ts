/**
 * Stored test sets, per tenant. A set and its cases are written in one transaction and never
 * changed afterwards (a changed set is a new set), so an evaluation that references one always
 * runs the cases it was submitted with. Deleting hides a set from its tenant; the rows stay for
 * evaluations that already reference it.
 */
import { randomUUID } from 'node:crypto';
import type { AnyCheckerSpec } from '../domain/checker-program';
import type { Limits } from '../domain/evaluation';
import type { Db } from './client';
import type { Prisma } from '../generated/prisma/client';
import { parseTestSetCaseRow, parseTestSetRow, type TestSetCaseRow, type TestSetRow } from './rows';

export interface NewTestCase {
  name?: string;
  stdin: Buffer;
  expectedOutput: Buffer;
  weight?: number;
  limits?: Partial<Limits>;
}

export interface NewTestSet {
  tenant: string;
  name: string;
  checker: AnyCheckerSpec;
  /** Made from a submission's inline cases: never listed, never fetched by id. */
  inline?: boolean;
  cases: NewTestCase[];
}

export interface TestSetWithCases {
  set: TestSetRow;
  cases: TestSetCaseRow[];
}

export class TestSetStore {
  constructor(private readonly db: Db) {}

  async create(input: NewTestSet): Promise<TestSetRow> {
    return this.db.$transaction((tx) => insertTestSet(tx, input));
  }

  /** The tenant's sets, newest first, after `cursor` (the last item of the previous page). */
  async list(tenant: string, limit: number, cursor?: { createdAt: Date; id: string }): Promise<TestSetRow[]> {
    const rows = await this.db.testSet.findMany({
      where: {
        tenant,
        deletedAt: null,
        inline: false,
        ...(cursor ? { OR: [{ createdAt: { lt: cursor.createdAt } }, { createdAt: cursor.createdAt, id: { lt: cursor.id } }] } : {}),
      },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: limit,
    });
    return rows.map(parseTestSetRow);
  }

  /** A set of the tenant's that is not deleted, with its cases in order; null otherwise. */
  async get(id: string, tenant: string): Promise<TestSetWithCases | null> {
    const row = await this.db.testSet.findFirst({
      where: { id, tenant, deletedAt: null, inline: false },
      include: { cases: { orderBy: { position: 'asc' } } },
    });
    if (row === null) return null;
    const { cases, ...set } = row;
    return { set: parseTestSetRow(set), cases: cases.map(parseTestSetCaseRow) };
  }

  /** Hides the set from its tenant; false when there was no such set to delete. */
  async delete(id: string, tenant: string, at = new Date()): Promise<boolean> {
    const { count } = await this.db.testSet.updateMany({ where: { id, tenant, deletedAt: null, inline: false }, data: { deletedAt: at } });
    return count === 1;
  }
}

/** A set and its cases, in the caller's transaction (a submission's inline cases go in with the evaluation). */
export async function insertTestSet(tx: Prisma.TransactionClient, input: NewTestSet): Promise<TestSetRow> {
  const id = randomUUID();
  const totalBytes = input.cases.reduce((sum, testCase) => sum + testCase.stdin.length + testCase.expectedOutput.length, 0);
  const set = await tx.testSet.create({
    data: {
      id,
      tenant: input.tenant,
      name: input.name,
      checker: input.checker as unknown as Prisma.InputJsonValue,
      caseCount: input.cases.length,
      totalBytes,
      inline: input.inline ?? false,
    },
  });
  await tx.testSetCase.createMany({
    data: input.cases.map((testCase, index) => ({
      testSetId: id,
      position: index + 1,
      name: testCase.name ?? null,
      stdin: new Uint8Array(testCase.stdin),
      expectedOutput: new Uint8Array(testCase.expectedOutput),
      weight: testCase.weight ?? 1,
      limits: testCase.limits ?? undefined,
    })),
  });
  return parseTestSetRow(set);
}

/** One case of a set, for the case's run (any set: an evaluation keeps its set even once deleted). */
export async function findTestCase(db: Db, testSetId: string, position: number): Promise<TestSetCaseRow | null> {
  const row = await db.testSetCase.findUnique({ where: { testSetId_position: { testSetId, position } } });
  return row === null ? null : parseTestSetCaseRow(row);
}

/** The set itself (its checker), without its cases: what each case's run needs besides its own case. */
export async function findTestSet(db: Db, testSetId: string): Promise<TestSetRow | null> {
  const set = await db.testSet.findUnique({ where: { id: testSetId } });
  return set === null ? null : parseTestSetRow(set);
}

/** The set's checker and every case's weight, name and position, without the cases' bytes. */
export async function findBundlePlan(
  db: Db,
  testSetId: string,
): Promise<{ set: TestSetRow; cases: { position: number; name: string | null; weight: number }[] } | null> {
  const set = await db.testSet.findUnique({ where: { id: testSetId } });
  if (set === null) return null;
  const cases = await db.testSetCase.findMany({
    where: { testSetId },
    orderBy: { position: 'asc' },
    select: { position: true, name: true, weight: true },
  });
  return { set: parseTestSetRow(set), cases };
}
