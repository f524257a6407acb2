/**
 * A pid file that keeps two processes from opening the same embedded data folder: PGlite has no
 * postmaster.pid of its own, and two writers would corrupt the database.
 */
import { closeSync, existsSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';

export class DataDirInUseError extends Error {
  override readonly name = 'DataDirInUseError';
}

export interface DataDirLock {
  release(): void;
}

/** Lock files this process holds; a lock file with our pid that is not here is stale (pid reused, e.g. pid 1 in a container). */
const heldByThisProcess = new Set<string>();

export function acquireDataDirLock(lockFile: string, what: string): DataDirLock {
  if (heldByThisProcess.has(lockFile)) {
    throw new DataDirInUseError(`${what} is already open in this process (lock file ${lockFile})`);
  }
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockFile, 'wx'); // fails if it exists: exclusive creation is the lock
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      heldByThisProcess.add(lockFile);
      const releaseOnExit = () => removeIfOurs(lockFile);
      process.once('exit', releaseOnExit);
      return {
        release() {
          process.off('exit', releaseOnExit);
          heldByThisProcess.delete(lockFile);
          removeIfOurs(lockFile);
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = readHolderPid(lockFile);
      if (holder !== undefined && holder !== process.pid && isAlive(holder)) {
        throw new DataDirInUseError(
          `${what} is already in use by process ${holder} (lock file ${lockFile}); stop that process, ` +
            'or delete the lock file if no such process of this service is running',
        );
      }
      unlinkSync(lockFile); // left behind by a process that died without cleaning up
    }
  }
  throw new DataDirInUseError(`could not take the lock ${lockFile} for ${what}: another process keeps creating it`);
}

function readHolderPid(lockFile: string): number | undefined {
  const pid = Number.parseInt(readFileSync(lockFile, 'utf8').trim(), 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
  // After a container restart the old pid may belong to an unrelated process; on Linux, only a
  // Node process counts as a live holder.
  const cmdline = `/proc/${pid}/cmdline`;
  return existsSync(cmdline) ? /node|tsx/.test(readFileSync(cmdline, 'utf8')) : true;
}

function removeIfOurs(lockFile: string): void {
  if (existsSync(lockFile) && readHolderPid(lockFile) === process.pid) unlinkSync(lockFile);
}
