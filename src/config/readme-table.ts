/**
 * README's configuration table, rendered from the schema in config.ts so that the documentation
 * cannot lag behind it: scripts/config-docs.ts writes it into README.md, and
 * test/config/readme-table.test.ts fails while README.md holds anything else.
 */
import type { z } from 'zod';
import { ConfigEnv, type ConfigVariableDoc } from './config';

export const TABLE_START = '<!-- config-table:start -->';
export const TABLE_END = '<!-- config-table:end -->';

export class ConfigDocsError extends Error {
  override readonly name = 'ConfigDocsError';
}

export function renderConfigTable(env: z.ZodObject = ConfigEnv): string {
  const rows = Object.entries(env.shape).map(([name, schema]) => {
    const doc = documentationOf(name, schema);
    return `| \`${name}\` | ${defaultOf(name, schema, doc)} | ${cell(doc.description)} |`;
  });
  return ['| variable | default | meaning |', '|---|---|---|', ...rows].join('\n');
}

/** The table as it stands between the markers of a README. */
export function currentConfigTable(readme: string): string {
  const { start, end } = markers(readme);
  return readme.slice(start + TABLE_START.length, end).trim();
}

/** The README with the table between its markers replaced. */
export function withConfigTable(readme: string, table: string = renderConfigTable()): string {
  const { start, end } = markers(readme);
  return `${readme.slice(0, start + TABLE_START.length)}\n${table}\n${readme.slice(end)}`;
}

function markers(readme: string): { start: number; end: number } {
  const start = readme.indexOf(TABLE_START);
  const end = readme.indexOf(TABLE_END);
  if (start < 0 || end < start)
    throw new ConfigDocsError(`README.md has no ${TABLE_START} … ${TABLE_END} section for the configuration table`);
  return { start, end };
}

function documentationOf(name: string, schema: z.ZodType): ConfigVariableDoc {
  const meta = schema.meta();
  const description = meta?.description;
  if (typeof description !== 'string' || description.trim() === '') {
    throw new ConfigDocsError(`${name} has no description: declare it with .meta(doc('…')) in src/config/config.ts`);
  }
  if (/[\r\n]/.test(description)) throw new ConfigDocsError(`${name}: the description must be one line (it is a table cell)`);
  const whenUnset = meta?.whenUnset;
  return typeof whenUnset === 'string' ? { description, whenUnset } : { description };
}

function defaultOf(name: string, schema: z.ZodType, doc: ConfigVariableDoc): string {
  // Parsing "unset" yields exactly what the service gets when the variable is absent.
  const unset = schema.safeParse(undefined);
  if (!unset.success) return 'required';
  if (unset.data !== undefined) {
    if (doc.whenUnset !== undefined) throw new ConfigDocsError(`${name} has a default, so whenUnset would never be shown`);
    return `\`${String(unset.data)}\``;
  }
  return doc.whenUnset === undefined ? 'unset' : `unset: ${cell(doc.whenUnset)}`;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}
