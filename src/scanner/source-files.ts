/**
 * Which files of a multi-file submission the scanner reads as source, per language: data, so
 * that a language's toolchain learning a new extension is a line here. Extensions compare
 * without regard to case (over-inclusive: `.C` is C++ to gcc, and scanning a file too many is
 * only a scan). Pure.
 */
import type { Language } from '../domain/evaluation';

export interface SourceFileRules {
  /** Files with these extensions are parsed as source of the language (the entry point always is). */
  source: readonly string[];
  /**
   * Compiled code the language's toolchain loads or links from the work directory, which the
   * scanner cannot read: each such file is a `scan.unparseable` finding (code nobody vouches for).
   */
  opaque: readonly string[];
}

export const SOURCE_FILE_RULES: Readonly<Record<Language, SourceFileRules>> = {
  // `import x` finds x.py, and also a sourceless x.pyc or an extension module x.so next to it.
  python: { source: ['.py'], opaque: ['.pyc', '.so', '.pyd'] },
  // `require('./x.node')` loads a native addon.
  javascript: { source: ['.js', '.mjs', '.cjs'], opaque: ['.node'] },
  c: { source: ['.c', '.h'], opaque: ['.o', '.a', '.so'] },
  // `.c` too: a C++ build may compile (or #include) a C file, and the C++ grammar reads C.
  cpp: {
    source: ['.cpp', '.cc', '.cxx', '.c++', '.hpp', '.hh', '.hxx', '.h++', '.h', '.ipp', '.tpp', '.inl', '.c'],
    opaque: ['.o', '.a', '.so'],
  },
  // `go build` assembles .s files and links .syso objects of the package.
  go: { source: ['.go'], opaque: ['.s', '.syso'] },
  java: { source: ['.java'], opaque: ['.class', '.jar'] },
  // A script may be named anything; the entry point is scanned whatever its name.
  bash: { source: ['.sh', '.bash'], opaque: [] },
};

export type FileRole = 'source' | 'opaque' | 'data';

/** The lower-cased extension of the last path segment (`.tar.gz` -> `.gz`), or '' if none; a leading dot (`.bashrc`) is no extension. */
export function extensionOf(path: string): string {
  const name = path.slice(path.lastIndexOf('/') + 1);
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(dot).toLowerCase() : '';
}

export function fileRole(language: Language, path: string, entryPoint?: string): FileRole {
  if (path === entryPoint) return 'source';
  const rules = SOURCE_FILE_RULES[language];
  const extension = extensionOf(path);
  if (extension === '') return 'data';
  if (rules.source.includes(extension)) return 'source';
  if (rules.opaque.includes(extension)) return 'opaque';
  return 'data';
}

/**
 * Names a source file gives, as literals, to files the program loads as code whatever their
 * extension: C's `#include "input.txt"`, Node's `require('./data')` (an unknown extension loads
 * as JavaScript), Bash's `source data` or `bash data`. Regular expressions over the text, so
 * over-inclusive (a match in a comment counts) and blind to computed names.
 */
const CODE_REFERENCES: Readonly<Partial<Record<Language, RegExp>>> = {
  c: /^[ \t]*#[ \t]*include[ \t]*["<]([^">\n]+)[">]/gm,
  cpp: /^[ \t]*#[ \t]*include[ \t]*["<]([^">\n]+)[">]/gm,
  javascript: /(?:\brequire\s*\(\s*|\bimport\s*\(\s*|\bfrom\s*|\bimport\s*)(?:'([^'\n]+)'|"([^"\n]+)"|`([^`$\n]+)`)/g,
  bash: /(?:^|[;&|({}!]|\bthen|\bdo|\belse)[ \t]*(?:source|\.|bash|sh)[ \t]+(?:-[a-z]+[ \t]+)*(?:'([^'\n]+)'|"([^"$\n]+)"|([^\s'"$;&|()<>]+))/gm,
};

/** The last path segments of the files `text` names as code (see CODE_REFERENCES). */
export function codeReferences(language: Language, text: string): Set<string> {
  const names = new Set<string>();
  const pattern = CODE_REFERENCES[language];
  if (pattern === undefined) return names;
  for (const match of text.matchAll(pattern)) {
    const name = match.slice(1).find((group) => group !== undefined);
    if (name !== undefined) names.add(name.slice(name.lastIndexOf('/') + 1));
  }
  return names;
}

/**
 * The source files of a submission: those `fileRole` calls source, and every data file a source
 * file names as code (`codeReferences`, by its last path segment, so a name in another directory
 * counts too), until no more are named.
 */
export function sourceFilePaths(
  language: Language,
  files: ReadonlyArray<{ path: string; content: Buffer }>,
  entryPoint?: string,
): Set<string> {
  const sources = new Set<string>();
  const pending: Array<{ path: string; content: Buffer }> = [];
  for (const file of files) {
    if (fileRole(language, file.path, entryPoint) === 'source' && !sources.has(file.path)) {
      sources.add(file.path);
      pending.push(file);
    }
  }
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    const named = codeReferences(language, file.content.toString('utf8'));
    if (named.size === 0) continue;
    for (const other of files) {
      if (sources.has(other.path) || fileRole(language, other.path, entryPoint) !== 'data') continue;
      if (named.has(other.path.slice(other.path.lastIndexOf('/') + 1))) {
        sources.add(other.path);
        pending.push(other);
      }
    }
  }
  return sources;
}
