/**
 * What a sandboxed program sees, the same in every engine: who it is (uid/gid 65534, "sandbox"),
 * where it works (/work, also HOME; /tmp), its environment, its /etc/passwd and /etc/group, which
 * host directories are bound read-only, and how large its tmpfs mounts may grow. The engines only
 * translate this into their own terms (bwrap arguments, an OCI bundle, a host directory).
 */
import { lstatSync, readlinkSync } from 'node:fs';
import type { Limits } from '../domain/evaluation';

/** The unprivileged user the program runs as (nobody/nogroup on Debian). */
export const SANDBOX_UID = 65534;
export const SANDBOX_GID = 65534;
export const SANDBOX_USER = { uid: SANDBOX_UID, gid: SANDBOX_GID } as const;

/** The program's work dir and HOME inside the sandbox; /tmp is a separate tmpfs of the same size. */
export const WORK_DIR = '/work';
export const TMP_DIR = '/tmp';
export const SHARED_MEMORY_DIR = '/dev/shm';
export const SANDBOX_HOSTNAME = 'sandbox';
export const SANDBOX_PATH = '/usr/local/bin:/usr/bin:/bin';
/** Where the compiled init is inside a sandbox (read-only, mode 0555, put there by the engine). */
export const COMPILED_INIT_PATH = '/init';

/** The program's whole environment; nothing of the service's own is passed on. */
export function sandboxEnvironment(home: string = WORK_DIR, tmp: string = TMP_DIR): Record<string, string> {
  return { PATH: SANDBOX_PATH, HOME: home, TMPDIR: tmp, LANG: 'C.UTF-8' };
}

/** Directories that every isolating engine binds read-only (what interpreters and libraries need). */
export const SYSTEM_DIRECTORIES = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'] as const;

/** Only what dynamically linked programs need from /etc (the loader cache, alternatives links). */
export const HOST_ETC_FILES = ['/etc/ld.so.cache', '/etc/alternatives'] as const;

/** Synthetic /etc/passwd and /etc/group: root and the sandbox user, nothing of the host's. */
export const PASSWD = `root:x:0:0:root:/nonexistent:/usr/sbin/nologin\nsandbox:x:${SANDBOX_UID}:${SANDBOX_GID}:sandbox:${WORK_DIR}:/usr/sbin/nologin\n`;
export const GROUP = `root:x:0:\nsandbox:x:${SANDBOX_GID}:\n`;

/** Sizes of the writable tmpfs mounts (their pages are memory: a memory cgroup counts them). */
export interface TmpfsSizes {
  /** /work and /tmp, each; also the program's RLIMIT_FSIZE. */
  workDirBytes: number;
  sharedMemoryBytes: number;
}

export const DEFAULT_WORK_DIR_BYTES = 64 * 1024 * 1024;
export const DEFAULT_SHARED_MEMORY_BYTES = 16 * 1024 * 1024;

/** /work and /tmp each at most the configured size and at most the memory limit; /dev/shm as configured. */
export function tmpfsSizes(limits: Limits, configured: Partial<TmpfsSizes> = {}): TmpfsSizes {
  return {
    workDirBytes: Math.min(configured.workDirBytes ?? DEFAULT_WORK_DIR_BYTES, limits.memoryMb * 1024 * 1024),
    sharedMemoryBytes: configured.sharedMemoryBytes ?? DEFAULT_SHARED_MEMORY_BYTES,
  };
}

/**
 * The system directories present on this host. On merged-/usr systems /bin, /lib, ... are
 * symlinks into /usr: engines recreate those as symlinks rather than binding the same tree twice.
 */
export function hostSystemDirectories(): Array<{ path: string; symlinkTarget: string | null }> {
  const found: Array<{ path: string; symlinkTarget: string | null }> = [];
  for (const directory of SYSTEM_DIRECTORIES) {
    let stats;
    try {
      stats = lstatSync(directory);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue; // e.g. no /lib32 here
      throw error;
    }
    if (stats.isSymbolicLink()) found.push({ path: directory, symlinkTarget: readlinkSync(directory) });
    else if (stats.isDirectory()) found.push({ path: directory, symlinkTarget: null });
  }
  return found;
}
