/** Temporal connection security from configuration: TLS, mTLS and API keys. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/config';
import { connectionSecurity } from '../../src/temporal/connection-security';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tls-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const p = path.join(dir, name);
  fs.writeFileSync(p, text);
  return p;
};

test('nothing configured: plain connection (the embedded dev server)', () => {
  expect(connectionSecurity(loadConfig({}).temporal.security)).toEqual({});
});

test('mTLS: CA, client certificate and key are read from their files', () => {
  const env = {
    TEMPORAL_TLS_CA: file('ca.pem', 'CA'),
    TEMPORAL_TLS_CERT: file('c.pem', 'CERT'),
    TEMPORAL_TLS_KEY: file('k.pem', 'KEY'),
    TEMPORAL_TLS_SERVER_NAME: 'temporal.internal',
  };
  const security = connectionSecurity(loadConfig(env).temporal.security);
  expect(security.tls).toMatchObject({ serverNameOverride: 'temporal.internal' });
  const tls = security.tls as { serverRootCACertificate: Buffer; clientCertPair: { crt: Buffer; key: Buffer } };
  expect(tls.serverRootCACertificate.toString()).toBe('CA');
  expect(tls.clientCertPair.crt.toString()).toBe('CERT');
  expect(tls.clientCertPair.key.toString()).toBe('KEY');
});

test('an API key (Temporal Cloud) always travels over TLS', () => {
  expect(connectionSecurity(loadConfig({ TEMPORAL_API_KEY: 'secret' }).temporal.security)).toEqual({ tls: true, apiKey: 'secret' });
});

test('a certificate without its key, or an unreadable file, is a clear configuration error', () => {
  expect(() => connectionSecurity(loadConfig({ TEMPORAL_TLS_CERT: file('only.pem', 'x') }).temporal.security)).toThrow(/TEMPORAL_TLS_KEY/);
  expect(() => connectionSecurity(loadConfig({ TEMPORAL_TLS_CA: path.join(dir, 'missing.pem') }).temporal.security)).toThrow(ConfigError);
});
