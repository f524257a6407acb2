/**
 * `npm run prisma:generate`: generates the Prisma client (src/generated/prisma) without network.
 *
 * `prisma generate` does not need the native schema engine, but it downloads one unless
 * PRISMA_SCHEMA_ENGINE_BINARY names an existing file, and the download fails offline. The client
 * we generate runs through @prisma/adapter-pg and needs no engine binary at all, and migrations
 * use the WebAssembly one where they need an engine at all (src/embedded/migration-diff.ts), so any
 * existing file will do.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

function main(): number {
  const projectRoot = path.resolve(__dirname, '..');
  const prismaCli = require.resolve('prisma/build/index.js', { paths: [projectRoot] });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    // Never executed by `generate`; it only has to exist. Fails loudly if something ever runs it.
    PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? placeholderBinary(),
    // No update check or telemetry request from an offline machine.
    CHECKPOINT_DISABLE: process.env.CHECKPOINT_DISABLE ?? '1',
    PRISMA_HIDE_UPDATE_MESSAGE: process.env.PRISMA_HIDE_UPDATE_MESSAGE ?? '1',
  };
  const result = spawnSync(process.execPath, [prismaCli, 'generate', ...process.argv.slice(2)], {
    cwd: projectRoot,
    env,
    stdio: 'inherit',
  });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

function placeholderBinary(): string {
  return existsSync('/bin/false') ? '/bin/false' : process.execPath;
}

process.exitCode = main();
