/**
 * Collects one output stream of a run, keeping at most `capBytes`: the first bytes are kept, the
 * rest is counted and dropped, so memory use is bounded by the cap whatever the program writes.
 */
export class CappedOutput {
  private readonly chunks: Buffer[] = [];
  private keptBytes = 0;
  private overflowed = false;

  /** @param onOverflow called once, when the first byte past the cap arrives. */
  constructor(
    private readonly capBytes: number,
    private readonly onOverflow: () => void = () => {},
  ) {}

  append(chunk: Buffer): void {
    if (this.overflowed) return;
    const room = this.capBytes - this.keptBytes;
    if (chunk.length <= room) {
      this.chunks.push(chunk);
      this.keptBytes += chunk.length;
      return;
    }
    if (room > 0) {
      // Copy: a subarray would pin the whole (possibly large) chunk in memory.
      this.chunks.push(Buffer.from(chunk.subarray(0, room)));
      this.keptBytes += room;
    }
    this.overflowed = true;
    this.onOverflow();
  }

  get truncated(): boolean {
    return this.overflowed;
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.chunks, this.keptBytes);
  }
}
