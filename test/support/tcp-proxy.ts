/**
 * A TCP proxy a test can cut and restore, to make a server unreachable for one client only, or
 * hold and release, to make it stop answering while its connections stay open.
 */
import net from 'node:net';

export class TcpProxy {
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();
  /** Each client's connection and its upstream, for hold and release. */
  private readonly pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  private held = false;
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async start(): Promise<void> {
    this.server = net.createServer((client) => {
      const upstream = net.connect(this.targetPort, this.targetHost);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      const pair = { client, upstream };
      this.pairs.add(pair);
      upstream.pipe(client);
      if (!this.held) client.pipe(upstream);
      client.on('close', () => {
        this.pairs.delete(pair);
        upstream.destroy();
      });
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  /** Drops every open connection and refuses new ones. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /**
   * Stops passing the client's bytes on (connections stay open, so requests hang unanswered, as
   * with a server that has stopped), until release().
   */
  hold(): void {
    this.held = true;
    for (const { client, upstream } of this.pairs) {
      client.unpipe(upstream);
      client.pause();
    }
  }

  /** Passes on what was held back, and everything after it. */
  release(): void {
    this.held = false;
    for (const { client, upstream } of this.pairs) client.pipe(upstream);
  }

  /** Listens again on the same port. */
  restore(): Promise<void> {
    return this.start();
  }

  stop(): Promise<void> {
    return this.cut();
  }
}
