/** Small file-system helpers shared by the host modules and the engines. */
import { promises as fs } from 'node:fs';

export function isErrno(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as NodeJS.ErrnoException).code === code;
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
