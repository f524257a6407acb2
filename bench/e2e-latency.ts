/**
 * The benchmark suite (`npm run bench`; the file keeps the name the npm script points at). It
 * starts the service as `npm start` does (or targets one by URL) and prints one table: sequential
 * latency split by stage, throughput at a concurrency, POST latency at a fixed rate while the
 * worker is saturated, optionally a backlog with RSS sampled, and lost/duplicated counts checked
 * in PostgreSQL, each figure with the command that reproduces it. `npm run bench -- --help`.
 *
 * Exits non-zero if an evaluation was lost or duplicated; a missed speed goal is only reported.
 */
import { ApiClient } from './client';
import { parseOptions, type Phase } from './options';
import { backlog, postUnderLoad, sequential, throughput, type PhaseContext } from './phases';
import { machineLine, printTable, type Row } from './report';
import { provideService } from './service';
import { StoreProbe } from './store-probe';

const RUNNERS: Record<Phase, (context: PhaseContext) => Promise<Row[]>> = {
  sequential,
  throughput,
  post: postUnderLoad,
  backlog,
};

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const machineBefore = machineLine();
  const service = await provideService(options);
  const probe = new StoreProbe(service.databaseUrl);
  const rows: Row[] = [];
  try {
    const context: PhaseContext = { options, service, api: new ApiClient(service.url, service.apiKey), probe };
    for (const phase of options.phases) {
      process.stderr.write(`bench: ${phase}...\n`);
      rows.push(...(await RUNNERS[phase](context)));
    }
  } finally {
    await probe.close();
    await service.stop();
  }
  printTable(rows, [
    `Crucible benchmark: trivial Python evaluations (print(sum(range(10)))), ${options.url ? `against ${options.url}` : 'service started by the suite (npm start entry point, fresh PostgreSQL database)'}`,
    `machine: before ${machineBefore}; after ${machineLine()}`,
  ]);
  const broken = rows.filter((r) => r.measure.includes('lost / duplicated') && !r.goal!.met);
  if (broken.length > 0) {
    console.error(`bench: evaluations lost or duplicated in ${broken.length} phase(s)`);
    process.exitCode = 1;
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
