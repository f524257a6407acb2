/**
 * The init's channel to the supervisor, on the supervisor's side.
 *
 * File descriptors of the launched process, channel 'fds' (bwrap, process):
 *   0 the program's stdin   1 /dev/null   2 the launcher's own diagnostics (bwrap, init)
 *   3 init's status lines   4 the program's stdout   5 the program's stderr
 *   6.. data inputs (the program file, synthetic /etc files), read by the launcher at set-up
 * Channel 'framed' (gVisor: `runsc run` passes only fds 0-2 into the sandbox):
 *   0 the program's stdin   1 frames from the init (stdout, stderr, status; see init.py)
 *   2 the launcher's own diagnostics (runsc, init)
 */
import { InitReportParseError, parseInitLine } from './init';

export const SANDBOX_FDS = { stdin: 0, diagnostics: 2, status: 3, stdout: 4, stderr: 5, firstData: 6 } as const;
/** fd of the frames in the 'framed' channel. */
export const FRAMED_FD = 1;

export type ChannelKind = 'fds' | 'framed';

/**
 * The init's status lines: a "started" event, then one final report. Kept to `capBytes`; a line
 * that is not valid is remembered as an error (reported as an infrastructure failure).
 */
export class StatusLines {
  private pending = '';
  private bytes = 0;
  finalLine = '';
  error: Error | null = null;

  constructor(
    private readonly capBytes: number,
    private readonly onLine: (line: { kind: 'started' } | { kind: 'final' }) => void,
  ) {}

  append(chunk: Buffer): void {
    if (this.error !== null) return;
    this.bytes += chunk.length;
    if (this.bytes > this.capBytes) {
      this.error = new InitReportParseError(`the sandbox init wrote more than ${this.capBytes} bytes of status`);
      return;
    }
    this.pending += chunk.toString('utf8');
    for (let newline = this.pending.indexOf('\n'); newline >= 0; newline = this.pending.indexOf('\n')) {
      const line = this.pending.slice(0, newline).trim();
      this.pending = this.pending.slice(newline + 1);
      if (line === '') continue;
      try {
        const parsed = parseInitLine(line);
        if (parsed.kind === 'started') {
          this.onLine({ kind: 'started' });
        } else if (this.finalLine === '') {
          this.finalLine = line;
          this.onLine({ kind: 'final' });
        }
      } catch (error) {
        this.error = error as Error;
        return;
      }
    }
  }
}

export const FRAME_STDOUT = 0x6f; // 'o'
export const FRAME_STDERR = 0x65; // 'e'
export const FRAME_REPORT = 0x72; // 'r'
const FRAME_HEADER_BYTES = 5;

/**
 * Splits the init's framed stream (type byte, 4-byte big-endian length, payload) and hands each
 * payload on as it arrives, piece by piece: nothing but a partial 5-byte header is ever buffered.
 */
export class FrameDecoder {
  private readonly header = Buffer.alloc(FRAME_HEADER_BYTES);
  private headerBytes = 0;
  private payloadLeft = 0;
  private type = 0;

  constructor(private readonly onPayload: (type: number, payload: Buffer) => void) {}

  push(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.payloadLeft === 0) {
        const take = Math.min(FRAME_HEADER_BYTES - this.headerBytes, chunk.length - offset);
        chunk.copy(this.header, this.headerBytes, offset, offset + take);
        this.headerBytes += take;
        offset += take;
        if (this.headerBytes === FRAME_HEADER_BYTES) {
          this.type = this.header[0];
          this.payloadLeft = this.header.readUInt32BE(1);
          this.headerBytes = 0;
        }
        continue;
      }
      const take = Math.min(this.payloadLeft, chunk.length - offset);
      this.onPayload(this.type, chunk.subarray(offset, offset + take));
      this.payloadLeft -= take;
      offset += take;
    }
  }
}
