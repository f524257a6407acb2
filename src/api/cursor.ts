/** Opaque list cursors: the sort key (createdAt, id) of the last item on a page. */
import { validate as isUuid } from 'uuid';
import { badRequest } from './errors';

/** Lists of evaluations and of test sets are both ordered by (createdAt, id), newest first. */
export function encodeCursor(row: { createdAt: Date; id: string }): string {
  return Buffer.from(`${row.createdAt.toISOString()}|${row.id}`).toString('base64url');
}

export function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  const [at, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const createdAt = new Date(at ?? '');
  if (!id || Number.isNaN(createdAt.getTime()) || !isUuid(id)) {
    throw badRequest('cursor is not one this API returned');
  }
  return { createdAt, id };
}
