/** README's configuration table is generated from the schema, so a variable cannot go undocumented. */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ConfigEnv } from '../../src/config/config';
import { ConfigDocsError, currentConfigTable, renderConfigTable, withConfigTable } from '../../src/config/readme-table';

const readme = fs.readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8');

test("README.md's configuration table is the one the schema produces (regenerate: npx tsx scripts/config-docs.ts)", () => {
  expect(currentConfigTable(readme)).toBe(renderConfigTable());
});

test('every declared variable has its own row, in declaration order', () => {
  const names = renderConfigTable()
    .split('\n')
    .slice(2)
    .map((row) => /^\| `([A-Z0-9_]+)` \|/.exec(row)?.[1]);
  expect(names).toEqual(Object.keys(ConfigEnv.shape));
});

test('a variable declared without a description cannot be rendered, naming it', () => {
  const env = z.object({ DOCUMENTED: z.string().optional().meta({ description: 'fine' }), NEW_SETTING: z.string().optional() });
  expect(() => renderConfigTable(env)).toThrow(ConfigDocsError);
  expect(() => renderConfigTable(env)).toThrow(/NEW_SETTING/);
});

test('the default column is what parsing an unset variable gives', () => {
  const flag = z.enum(['true', 'false']).transform((v) => v === 'true');
  const env = z.object({
    LIMIT: z.coerce.number().int().default(42).meta({ description: 'a | b' }),
    ENABLED: flag.default(false).meta({ description: 'on or off' }),
    URL: z.string().optional().meta({ description: 'somewhere', whenUnset: 'embedded' }),
    EXTRA: z.string().optional().meta({ description: 'rarely needed' }),
  });
  expect(renderConfigTable(env).split('\n').slice(2)).toEqual([
    '| `LIMIT` | `42` | a \\| b |',
    '| `ENABLED` | `false` | on or off |',
    '| `URL` | unset: embedded | somewhere |',
    '| `EXTRA` | unset | rarely needed |',
  ]);
});

test('regenerating replaces only what lies between the markers', () => {
  const doc = 'intro\n<!-- config-table:start -->\nold table\n<!-- config-table:end -->\noutro\n';
  expect(withConfigTable(doc, 'NEW')).toBe('intro\n<!-- config-table:start -->\nNEW\n<!-- config-table:end -->\noutro\n');
  expect(() => withConfigTable('no markers here', 'NEW')).toThrow(ConfigDocsError);
});
