/**
 * The init's channel to the supervisor, on the supervisor's side.
 *
 * File descriptors of the launched process, channel 'fds' (bwrap, process):
 *   0 the program's stdin   1 /dev/null   2 the launcher's own diagnostics (bwrap, init)
 *   3 init's status lines   4 the program's stdout   5 the program's stderr
 *   6 artefacts (frames 'n' and 'a', below) of a compile stage, from the init after the compiler ended
 *   7.. data inputs (the program's files, synthetic /etc files), read by the launcher at set-up
 * Channel 'framed' (gVisor: `runsc run` passes only fds 0-2 into the sandbox):
 *   0 the program's stdin   1 frames from the init (stdout, stderr, status; see init.py)
 *   2 the launcher's own diagnostics (runsc, init)
 * Artefacts (a compile stage's output, sent by the init once the compiler ended with exit code 0):
 * per file a frame 'n' (b'x' executable or b'-', then the name), then its content in 'a' frames.
 */
import { relativePathProblem } from '../../domain/submission-files';
import { InitReportParseError, parseInitLine } from './init';

export const SANDBOX_FDS = { stdin: 0, diagnostics: 2, status: 3, stdout: 4, stderr: 5, artefacts: 6, firstData: 7 } as const;
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
export const FRAME_ARTEFACT_NAME = 0x6e; // 'n'
export const FRAME_ARTEFACT_DATA = 0x61; // 'a'
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
  private payloadSeen = 0;

  /** `first`: this piece starts its frame's payload. */
  constructor(private readonly onPayload: (type: number, payload: Buffer, first: boolean) => void) {}

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
          this.payloadSeen = 0;
          this.headerBytes = 0;
        }
        continue;
      }
      const take = Math.min(this.payloadLeft, chunk.length - offset);
      this.onPayload(this.type, chunk.subarray(offset, offset + take), this.payloadSeen === 0);
      this.payloadSeen += take;
      this.payloadLeft -= take;
      offset += take;
    }
  }
}

/** A file the init brought out of the work dir. */
export interface Artefact {
  /** Its path relative to the work dir: `main`, or `app/Main.class` (a collection deeper than the top level). */
  name: string;
  content: Buffer;
  executable: boolean;
}

/**
 * Assembles artefacts from 'n' and 'a' frame payloads (in order, pieces of a payload as they
 * arrive), holding at most `capBytes` in all; past it, or with a name that is not a relative
 * path by the rules of a submission's files (no `..`, no leading `/`), it records an error (the init broke its protocol: an infrastructure failure).
 */
export class ArtefactAssembler {
  private readonly files: Array<{ name: string; executable: boolean; chunks: Buffer[] }> = [];
  private bytes = 0;
  private pendingName: Buffer[] | null = null;
  error: Error | null = null;

  constructor(private readonly capBytes: number) {}

  /** One piece of a frame's payload; a new 'n' frame starts a new file. */
  push(type: number, piece: Buffer, firstPiece: boolean): void {
    if (this.error !== null) return;
    if (type === FRAME_ARTEFACT_NAME) {
      if (firstPiece) {
        this.takeName(); // a file with no content frames (empty) ends at the next name
        this.pendingName = [];
      }
      this.pendingName?.push(Buffer.from(piece));
      return;
    }
    this.takeName();
    const current = this.files.at(-1);
    if (current === undefined) {
      this.error = new Error('artefact content before its name');
      return;
    }
    this.bytes += piece.length;
    if (this.bytes > this.capBytes) {
      this.error = new Error(`artefacts larger than ${this.capBytes} bytes`);
      return;
    }
    current.chunks.push(Buffer.from(piece));
  }

  /** Every artefact received; throws the protocol error if there was one. */
  artefacts(): Artefact[] {
    this.takeName();
    if (this.error !== null) throw this.error;
    return this.files.map((file) => ({ name: file.name, executable: file.executable, content: Buffer.concat(file.chunks) }));
  }

  private takeName(): void {
    if (this.pendingName === null) return;
    const header = Buffer.concat(this.pendingName);
    this.pendingName = null;
    const name = header.subarray(1).toString('utf8');
    if (header.length < 2 || name.includes('\0') || relativePathProblem(name) !== null) {
      this.error = new Error(`invalid artefact name ${JSON.stringify(name)}`);
      return;
    }
    this.files.push({ name, executable: header[0] === 0x78, chunks: [] });
  }
}
