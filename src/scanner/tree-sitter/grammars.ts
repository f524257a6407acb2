/**
 * Tree-sitter grammars, compiled to WebAssembly, for the languages without a scanner of their
 * own language's parser (C, C++, Go, Java, Bash). WebAssembly keeps a parser bug inside the
 * module's linear memory instead of the worker's; tree-sitter parses in linear time and recovers
 * from errors, so any input yields a tree.
 */
import { readFile } from 'node:fs/promises';
import { Language, Parser } from 'web-tree-sitter';

export type GrammarName = 'c' | 'cpp' | 'go' | 'java' | 'bash';

let runtime: Promise<void> | null = null;
const grammars = new Map<GrammarName, Promise<Language>>();

/** Loads the grammar once per process; a failed load is retried by the next call. */
export function loadGrammar(name: GrammarName): Promise<Language> {
  let grammar = grammars.get(name);
  if (grammar === undefined) {
    runtime ??= Parser.init().catch((error: unknown) => {
      runtime = null;
      throw error;
    });
    // The bytes, not the path: given a path, Language.load imports node:fs dynamically, which a
    // CommonJS host without VM modules (jest) cannot do.
    const file = require.resolve(`tree-sitter-wasms/out/tree-sitter-${name}.wasm`);
    grammar = runtime.then(async () => Language.load(await readFile(file)));
    grammar.catch(() => grammars.delete(name));
    grammars.set(name, grammar);
  }
  return grammar;
}
