/**
 * Turns UTF-16 offsets (what acorn reports) into 1-based lines and 1-based character columns,
 * the convention every scanner report uses. Line terminators are ECMAScript's.
 */
const LINE_TERMINATOR = /\r\n|[\n\r\u2028\u2029]/g;

export class SourcePositions {
  private lineStarts: number[] | null = null;

  constructor(private readonly source: string) {}

  private starts(): number[] {
    if (this.lineStarts === null) {
      const starts = [0];
      for (const match of this.source.matchAll(LINE_TERMINATOR)) starts.push(match.index + match[0].length);
      this.lineStarts = starts;
    }
    return this.lineStarts;
  }

  at(offset: number): { line: number; column: number } {
    const starts = this.starts();
    let low = 0;
    let high = starts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (starts[middle]! <= offset) low = middle;
      else high = middle - 1;
    }
    let characters = 0;
    for (const _ of this.source.slice(starts[low]!, offset)) characters += 1;
    return { line: low + 1, column: characters + 1 };
  }
}
