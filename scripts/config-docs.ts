/**
 * Writes README.md's configuration table from the schema in src/config/config.ts, so that a
 * variable is documented where it is declared:
 *   npx tsx scripts/config-docs.ts           rewrite the table in README.md
 *   npx tsx scripts/config-docs.ts --check   exit 1 if README.md's table is out of date
 *   npx tsx scripts/config-docs.ts --print   print the table only
 */
import fs from 'node:fs';
import path from 'node:path';
import { currentConfigTable, renderConfigTable, withConfigTable } from '../src/config/readme-table';

const README = path.resolve(__dirname, '../README.md');
const USAGE = 'usage: npx tsx scripts/config-docs.ts [--check | --print]';

function main(): void {
  const mode = process.argv[2];
  const table = renderConfigTable();
  if (mode === '--print') {
    console.log(table);
    return;
  }
  const readme = fs.readFileSync(README, 'utf8');
  if (mode === '--check') {
    if (currentConfigTable(readme) !== table) {
      console.error('README.md: the configuration table is out of date; run `npx tsx scripts/config-docs.ts`');
      process.exit(1);
    }
    return;
  }
  if (mode !== undefined) {
    console.error(USAGE);
    process.exit(2);
  }
  const updated = withConfigTable(readme, table);
  if (updated === readme) {
    console.log('README.md: the configuration table is up to date.');
    return;
  }
  fs.writeFileSync(README, updated);
  console.log('README.md: configuration table rewritten.');
}

try {
  main();
} catch (error: unknown) {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
}
