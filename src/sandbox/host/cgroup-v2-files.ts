/**
 * The file operations the cgroup v2 backend performs, behind an interface so that the unit tests
 * can run the backend against a fake cgroupfs (a temp dir plus the few kernel rules that matter:
 * interface files appear on mkdir, moving a pid through cgroup.procs, the no-internal-processes
 * rule, EBUSY on rmdir of a populated group). Production uses the real files.
 */
import { mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { isErrno, pathExistsSync } from './fs';

export interface CgroupFiles {
  read(file: string): Promise<string>;
  write(file: string, content: string): Promise<void>;
  exists(file: string): Promise<boolean>;
  mkdir(directory: string): Promise<void>;
  rmdir(directory: string): Promise<void>;
  /** Names of the subdirectories (child groups) of a directory. */
  subdirectories(directory: string): Promise<string[]>;
}

/**
 * Synchronous underneath, as in the v1 backend (cgroup-v1.ts says why): cgroupfs answers in
 * microseconds, and a round trip through libuv's thread pool costs more than the call itself.
 */
export const hostCgroupFiles: CgroupFiles = {
  read: async (file) => readFileSync(file, 'utf8'),
  // One write(2) per call: cgroupfs acts on each write, so content must not be split.
  write: async (file, content) => writeFileSync(file, content),
  exists: async (file) => pathExistsSync(file),
  mkdir: async (directory) => mkdirSync(directory),
  rmdir: async (directory) => rmdirSync(directory),
  subdirectories: async (directory) =>
    readdirSync(directory, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name),
};

export { isErrno };

/** A "flat keyed" cgroup file ("key value" per line: memory.events, pids.events, cpu.stat). */
export function parseFlatKeyed(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key && value !== undefined && /^\d+$/.test(value)) values.set(key, Number(value));
  }
  return values;
}

/** cgroup.procs: one pid per line. */
export function parsePids(text: string): number[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map(Number);
}
