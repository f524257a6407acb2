/**
 * Serves one PGlite database over the PostgreSQL wire protocol to many client connections, so `pg`
 * pools and Prisma (@prisma/adapter-pg) work against it unchanged.
 *
 * Why not @electric-sql/pglite-socket's PGLiteSocketServer: PGlite has exactly one backend
 * session, and that server interleaves clients message by message. A client's extended-protocol
 * exchange (Parse, Bind, Describe, Execute, Sync) that arrives in several TCP reads (any query with
 * a parameter over about 64 KiB, such as a 1 MiB output being persisted) lets another client's
 * messages run in between and replace the shared unnamed statement, so the first client fails with
 * "unnamed prepared statement does not exist" or, worse, executes someone else's statement
 * (reproduced in test/infra/embedded-postgres.test.ts). Here each client's messages are collected
 * into whole batches (up to Sync, or a simple Query) and every batch runs without interruption.
 * Like PGLiteSocketServer, a client that opens a transaction keeps the session until it ends.
 *
 * Limits that come from the single session and remain: session state (SET, prepared statement
 * names, temp tables, advisory locks) is shared by all connections, and there is no LISTEN/NOTIFY
 * and no query cancellation.
 */
import net from 'node:net';
import type { PGlite } from '@electric-sql/pglite';

const SSL_REQUEST_CODE = 80877103;
const GSSENC_REQUEST_CODE = 80877104;
const CANCEL_REQUEST_CODE = 80877102;
const PROTOCOL_VERSION_3 = 196608;
/** Messages after which the client waits for the server's answer: Sync, Query, Flush, CopyDone, CopyFail. */
const BATCH_END_TYPES = new Set(['S', 'Q', 'H', 'c', 'f'].map((type) => type.charCodeAt(0)));
const TERMINATE_TYPE = 'X'.charCodeAt(0);

export interface PgliteWireServerOptions {
  db: PGlite;
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Connections beyond this are refused with SQLSTATE 53300 (too_many_connections). */
  maxConnections: number;
  /** Receives failures of PGlite itself (not SQL errors, which go to the client as usual). */
  onError?: (error: Error) => void;
}

class ClientConnection {
  private buffer: Buffer = Buffer.alloc(0);
  private startupDone = false;
  private batch: Uint8Array[] = [];
  closed = false;

  constructor(
    readonly socket: net.Socket,
    private readonly enqueue: (connection: ClientConnection, messages: Uint8Array[]) => void,
    /** Set when over the connection limit: answered with this error once the client has said hello. */
    readonly refusal?: Buffer,
  ) {}

  receive(data: Buffer): void {
    this.buffer = this.buffer.length === 0 ? data : Buffer.concat([this.buffer, data]);
    while (!this.closed) {
      const consumed = this.startupDone ? this.takeMessage() : this.takeStartupPacket();
      if (consumed === 0) break;
      this.buffer = this.buffer.subarray(consumed);
    }
  }

  /** Before the startup message: SSL/GSS negotiation requests, a cancel request, or the startup message. */
  private takeStartupPacket(): number {
    if (this.buffer.length < 8) return 0;
    const length = this.buffer.readInt32BE(0);
    const code = this.buffer.readInt32BE(4);
    if (code === SSL_REQUEST_CODE || code === GSSENC_REQUEST_CODE) {
      this.socket.write('N'); // no encryption: the client continues in plain text
      return 8;
    }
    if (code === CANCEL_REQUEST_CODE) {
      // There is no separate backend to interrupt; the protocol expects no answer, just a close.
      this.socket.end();
      return this.buffer.length;
    }
    if (code !== PROTOCOL_VERSION_3 || length < 8) {
      this.socket.destroy(new Error(`unsupported startup packet (code ${code})`));
      return this.buffer.length;
    }
    if (this.buffer.length < length) return 0;
    this.startupDone = true;
    if (this.refusal) {
      // Answering after reading the startup message: closing with it unread would reset the connection.
      this.socket.end(this.refusal);
      return this.buffer.length;
    }
    this.enqueue(this, [new Uint8Array(this.buffer.subarray(0, length))]);
    return length;
  }

  private takeMessage(): number {
    if (this.buffer.length < 5) return 0;
    const type = this.buffer[0];
    const total = 1 + this.buffer.readInt32BE(1);
    if (this.buffer.length < total) return 0;
    if (type === TERMINATE_TYPE) {
      this.socket.end();
      return total;
    }
    this.batch.push(new Uint8Array(this.buffer.subarray(0, total)));
    if (BATCH_END_TYPES.has(type)) {
      this.enqueue(this, this.batch);
      this.batch = [];
    }
    return total;
  }
}

interface QueuedBatch {
  connection: ClientConnection;
  messages: Uint8Array[];
}

export class PgliteWireServer {
  private readonly server: net.Server;
  private readonly connections = new Set<ClientConnection>();
  private queue: QueuedBatch[] = [];
  /** The connection whose open transaction currently owns the session. */
  private transactionOwner: ClientConnection | undefined;
  private draining: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: PgliteWireServerOptions) {
    this.server = net.createServer((socket) => this.accept(socket));
  }

  async listen(): Promise<{ host: string; port: number }> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const address = this.server.address() as net.AddressInfo;
    return { host: this.options.host, port: address.port };
  }

  /** Open client connections, not counting refused ones still being turned away. */
  get connectionCount(): number {
    let count = 0;
    for (const connection of this.connections) if (!connection.refusal) count += 1;
    return count;
  }

  /** Stops accepting, drops every client, and waits for the batch in progress to finish. */
  async close(): Promise<void> {
    this.stopped = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const connection of this.connections) {
      connection.closed = true;
      connection.socket.destroy();
    }
    this.connections.clear();
    this.queue = [];
    await this.draining;
    // After this nothing touches the database, so the caller may close it.
    await this.rollbackAbandonedTransaction();
    await closed;
  }

  private accept(socket: net.Socket): void {
    socket.setNoDelay(true);
    const refusal = this.connectionCount >= this.options.maxConnections ? tooManyConnectionsError(this.options.maxConnections) : undefined;
    const connection = new ClientConnection(socket, (from, messages) => this.enqueue(from, messages), refusal);
    this.connections.add(connection);
    socket.on('data', (data: Buffer) => connection.receive(data));
    socket.on('error', () => socket.destroy()); // a client vanishing is routine; 'close' cleans up
    socket.on('close', () => {
      connection.closed = true;
      this.connections.delete(connection);
      this.queue = this.queue.filter((batch) => batch.connection !== connection);
      this.drain(); // an abandoned transaction must be rolled back so others can proceed
    });
  }

  private enqueue(connection: ClientConnection, messages: Uint8Array[]): void {
    this.queue.push({ connection, messages });
    this.drain();
  }

  private drain(): void {
    if (this.stopped) return;
    this.draining ??= this.runQueue()
      .catch((error: unknown) => this.reportError(error))
      .finally(() => {
        this.draining = undefined;
      });
  }

  private reportError(error: unknown): void {
    const failure = error instanceof Error ? error : new Error(String(error));
    if (!this.options.onError) throw failure; // surfaces as an unhandled rejection rather than vanishing
    this.options.onError(failure);
  }

  private async runQueue(): Promise<void> {
    for (;;) {
      await this.rollbackAbandonedTransaction();
      const next = this.takeNextBatch();
      if (!next) return;
      await this.execute(next);
    }
  }

  /** FIFO, except that while a client is inside a transaction only its own batches may run. */
  private takeNextBatch(): QueuedBatch | undefined {
    const owner = this.transactionOwner;
    const index = owner ? this.queue.findIndex((batch) => batch.connection === owner) : 0;
    if (index < 0 || this.queue.length === 0) return undefined;
    return this.queue.splice(index, 1)[0];
  }

  private async execute({ connection, messages }: QueuedBatch): Promise<void> {
    const { db } = this.options;
    try {
      await db.runExclusive(async () => {
        for (const message of messages) {
          await db.execProtocolRawStream(message, {
            // The chunk is a view into PGlite's memory, reused by the next message: copy it.
            onRawData: (chunk) => {
              if (!connection.closed) connection.socket.write(Buffer.from(chunk));
            },
          });
        }
      });
    } catch (error) {
      // Not an SQL error (those are answered in-protocol) but PGlite failing: drop the client.
      connection.socket.destroy();
      this.reportError(error);
    }
    this.transactionOwner = db.isInTransaction() ? connection : undefined;
  }

  private async rollbackAbandonedTransaction(): Promise<void> {
    const owner = this.transactionOwner;
    if (!owner?.closed) return;
    this.transactionOwner = undefined;
    const { db } = this.options;
    if (db.closed || !db.isInTransaction()) return;
    await db.exec('ROLLBACK');
  }
}

/** An ErrorResponse, as a real server sends when max_connections is reached. */
function tooManyConnectionsError(maxConnections: number): Buffer {
  const fields = [
    ['S', 'FATAL'],
    ['V', 'FATAL'],
    ['C', '53300'],
    ['M', `sorry, too many clients already (the embedded PostgreSQL allows ${maxConnections} connections)`],
  ];
  const body = Buffer.concat([...fields.map(([code, value]) => Buffer.from(`${code}${value}\0`)), Buffer.from([0])]);
  const header = Buffer.alloc(5);
  header.write('E', 0);
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}
