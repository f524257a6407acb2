import { readFileSync } from 'node:fs';
import net from 'node:net';

/** Lowest port the helpers hand out: above the well-known and most registered service ports. */
const LOWEST_PORT = 10_000;
/** Linux's default start of the ephemeral range, used when /proc does not say. */
const DEFAULT_EPHEMERAL_START = 32_768;
const ATTEMPTS_PER_PORT = 200;

/**
 * `count` distinct ports that were free a moment ago, for a server a test starts later.
 *
 * They come from below the kernel's ephemeral range, at random. A port the OS picks (`listen(0)`)
 * comes from that range, and so does the local port of every outgoing connection and every port
 * another server picks the same way (the Temporal dev server picks its internal ports like that).
 * In CI one of those took a port in the two seconds between this helper's answer and the test's
 * server binding it ("address already in use"). Outside the range only a caller that names the
 * port can take it. Each port stays bound until all are picked, so none is handed out twice.
 */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const highest = ephemeralRangeStart() - 1;
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < count; i++) servers.push(await bindRandomPort(host, LOWEST_PORT, highest));
    return servers.map((server) => (server.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  }
}

function ephemeralRangeStart(): number {
  try {
    const start = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(start) && start > LOWEST_PORT + 1_000 ? start : DEFAULT_EPHEMERAL_START;
  } catch {
    return DEFAULT_EPHEMERAL_START; // not Linux: the usual default
  }
}

async function bindRandomPort(host: string, lowest: number, highest: number): Promise<net.Server> {
  for (let attempt = 0; attempt < ATTEMPTS_PER_PORT; attempt++) {
    const port = lowest + Math.floor(Math.random() * (highest - lowest + 1));
    const server = net.createServer();
    const bound = await new Promise<boolean>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) => (error.code === 'EADDRINUSE' ? resolve(false) : reject(error)));
      server.listen(port, host, () => resolve(true));
    });
    if (bound) return server;
  }
  throw new Error(`no free port between ${lowest} and ${highest} on ${host} after ${ATTEMPTS_PER_PORT} tries`);
}

/** True when something accepts TCP connections on host:port. */
export function isListening(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, host);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
