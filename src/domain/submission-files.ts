/**
 * The rules for a multi-file submission: a map of relative paths to file contents plus an entry
 * point. The files are written into the sandbox's work directory, so every rule here is about
 * what could land outside it or clash inside it:
 *
 * - a path is relative, uses `/` only, has no empty, `.` or `..` segment, no control character
 *   and no backslash (which would be a separator on another system), and is short;
 * - two entries may not name the same file, nor may one be a directory of the other (`a` and
 *   `a/b`);
 * - the map describes plain files only: a JSON map cannot carry a symlink (whatever writes the
 *   files must still create each one anew, never following a name that already exists);
 * - counts and total size are bounded, and the entry point is one of the files.
 *
 * Pure, so the API's schema and the sandbox apply the same rules.
 */

export const MAX_FILES = 100;
export const MAX_PATH_BYTES = 255;
export const MAX_SEGMENT_BYTES = 100;
export const MAX_DEPTH = 8;

export interface SubmissionFile {
  /** UTF-8 text, or `base64` for binary content (exactly one of the two). */
  content?: string;
  base64?: string;
}

export interface FileProblem {
  /** The offending path (or the entry point), as the client sent it. */
  path: string;
  message: string;
}

export interface FileSetLimits {
  maxTotalBytes: number;
}

/** Every problem found (not only the first), so a client can fix them in one go. */
export function fileSetProblems(files: Readonly<Record<string, SubmissionFile>>, entryPoint: string, limits: FileSetLimits): FileProblem[] {
  const problems: FileProblem[] = [];
  const paths = Object.keys(files);
  if (paths.length === 0) problems.push({ path: '', message: 'files must hold at least one file' });
  if (paths.length > MAX_FILES) problems.push({ path: '', message: `files may hold at most ${MAX_FILES} files, not ${paths.length}` });

  let totalBytes = 0;
  for (const path of paths) {
    const pathProblem = relativePathProblem(path);
    if (pathProblem !== null) problems.push({ path, message: pathProblem });
    const file = files[path];
    const contentProblem = fileContentProblem(file);
    if (contentProblem !== null) problems.push({ path, message: contentProblem });
    else totalBytes += fileSize(file);
  }
  if (totalBytes > limits.maxTotalBytes) {
    problems.push({ path: '', message: `the files total ${totalBytes} bytes, more than the ${limits.maxTotalBytes} allowed` });
  }
  problems.push(...clashes(paths.filter((path) => relativePathProblem(path) === null)));
  if (!Object.prototype.hasOwnProperty.call(files, entryPoint)) {
    problems.push({ path: entryPoint, message: 'the entry point must be one of the files' });
  }
  return problems;
}

/** null when `path` is an acceptable relative file path, else why not. */
export function relativePathProblem(path: string): string | null {
  if (path.length === 0) return 'a path must not be empty';
  if (utf8Length(path) > MAX_PATH_BYTES) return `a path may be at most ${MAX_PATH_BYTES} bytes`;
  if (path.startsWith('/')) return 'a path must be relative (no leading /)';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(path)) return 'a path must not contain control characters';
  if (path.includes('\\')) return 'a path must use / as its separator, not \\';
  const segments = path.split('/');
  if (segments.length > MAX_DEPTH) return `a path may be at most ${MAX_DEPTH} levels deep`;
  for (const segment of segments) {
    if (segment === '') return 'a path must not have empty segments (// or a trailing /)';
    if (segment === '.' || segment === '..') return 'a path must not have . or .. segments';
    if (utf8Length(segment) > MAX_SEGMENT_BYTES) return `a path segment may be at most ${MAX_SEGMENT_BYTES} bytes`;
  }
  return null;
}

function fileContentProblem(file: SubmissionFile | undefined): string | null {
  if (file === undefined || typeof file !== 'object' || file === null) return 'a file must be an object with content or base64';
  const hasText = typeof file.content === 'string';
  const hasBase64 = typeof file.base64 === 'string';
  if (hasText === hasBase64) return 'a file must have exactly one of content and base64';
  if (hasBase64 && !isCanonicalBase64(file.base64 as string)) return 'base64 must be standard, padded base64';
  return null;
}

/** The decoded size of a file whose content passed fileContentProblem. */
export function fileSize(file: SubmissionFile): number {
  if (typeof file.content === 'string') return utf8Length(file.content);
  const encoded = file.base64 as string;
  const padding = encoded.endsWith('==') ? 2 : encoded.endsWith('=') ? 1 : 0;
  return (encoded.length / 4) * 3 - padding;
}

export function clashes(paths: string[]): FileProblem[] {
  const problems: FileProblem[] = [];
  const files = new Set(paths);
  const directories = new Set<string>();
  for (const path of paths) {
    const segments = path.split('/');
    for (let depth = 1; depth < segments.length; depth++) directories.add(segments.slice(0, depth).join('/'));
  }
  for (const path of paths) {
    if (directories.has(path)) problems.push({ path, message: 'a file must not also be a directory of another file' });
  }
  // JSON object keys are unique, but the same file can still be named twice by Unicode
  // normalisation (é as one code point or as e + combining accent).
  const seen = new Map<string, string>();
  for (const path of files) {
    const normal = path.normalize('NFC');
    const earlier = seen.get(normal);
    if (earlier !== undefined) problems.push({ path, message: `names the same file as ${JSON.stringify(earlier)}` });
    else seen.set(normal, path);
  }
  return problems;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function isCanonicalBase64(value: string): boolean {
  return BASE64.test(value);
}

function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}
