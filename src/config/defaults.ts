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
