/**
 * Defaults that modules built without a Config also need (a sandbox engine or webhook sender
 * constructed in a test, say). Declared here so that configuration owns them and the modules
 * that use them import downwards.
 */

/**
 * Debian's interpreter: starts in ~10 ms and lies inside /usr, which every sandbox binds. The
 * engines' init, Python submissions and (by default) the scanner all use it, so they agree on
 * one Python version.
 */
export const DEFAULT_PYTHON_PATH = '/usr/bin/python3';

/** Timeout of one webhook delivery attempt. */
export const DEFAULT_WEBHOOK_TIMEOUT_MS = 10_000;

/** The sandbox engines' binaries and gVisor's platform (configurable: see config.ts). */
export const DEFAULT_BWRAP_PATH = '/usr/bin/bwrap';
export const DEFAULT_RUNSC_PATH = '/usr/bin/runsc';
export const DEFAULT_SETPRIV_PATH = '/usr/bin/setpriv';
export const GVISOR_PLATFORMS = ['ptrace', 'systrap', 'kvm'] as const;
export type GvisorPlatform = (typeof GVISOR_PLATFORMS)[number];
export const DEFAULT_GVISOR_PLATFORM: GvisorPlatform = 'ptrace';

/**
 * Toolchains of the compiled languages and Bash (Debian's gcc, g++, golang-go,
 * default-jdk-headless, bash). A missing one makes its language unavailable, not the service.
 */
export const DEFAULT_GCC_PATH = '/usr/bin/gcc';
export const DEFAULT_GXX_PATH = '/usr/bin/g++';
export const DEFAULT_GO_PATH = '/usr/bin/go';
export const DEFAULT_JAVAC_PATH = '/usr/bin/javac';
export const DEFAULT_JAVA_PATH = '/usr/bin/java';
export const DEFAULT_BASH_PATH = '/bin/bash';
