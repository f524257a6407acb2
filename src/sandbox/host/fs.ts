/** Small file-system helpers shared by the host modules and the engines. */
import { lstatSync, promises as fs } from 'node:fs';

/** Whether `error` is a system error with one of these codes (ENOENT, ESRCH, ...). */
export function isErrno(error: unknown, ...codes: string[]): boolean {
  return typeof error === 'object' && error !== null && codes.includes((error as NodeJS.ErrnoException).code ?? '');
}

/** Whether `hostPath` exists (a dangling symlink counts); errors other than ENOENT are thrown. */
export async function pathExists(hostPath: string): Promise<boolean> {
  try {
    await fs.lstat(hostPath);
    return true;
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return false;
    throw error;
  }
}

/** pathExists without the thread pool, for the small kernel files of cgroupfs. */
export function pathExistsSync(hostPath: string): boolean {
  try {
    lstatSync(hostPath);
    return true;
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return false;
    throw error;
  }
}
