import { readFileSync } from 'node:fs';
import net from 'node:net';
import { freePorts } from '../support/free-port';

/** The ports tests start servers on must not be ones the OS hands to outgoing connections meanwhile. */
describe('freePorts', () => {
  it('hands out distinct ports below the ephemeral range, each free to bind', async () => {
    const ephemeralStart = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    const ports = await freePorts(20);
    expect(new Set(ports).size).toBe(20);
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(10_000);
      expect(port).toBeLessThan(ephemeralStart);
      const server = net.createServer();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', resolve);
      });
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
