/**
 * TLS, mTLS and API-key settings for secured Temporal clusters and Temporal Cloud, shared by the
 * API's client connection and the worker's native connection. Files are read once, at start-up.
 */
import fs from 'node:fs';
import type { TLSConfig } from '@temporalio/common/lib/internal-non-workflow';
import type { TemporalSecuritySettings } from '../config/config';
import { ConfigError } from '../config/errors';

export interface ConnectionSecurity {
  tls?: TLSConfig | boolean;
  apiKey?: string;
}

export function connectionSecurity(s: TemporalSecuritySettings): ConnectionSecurity {
  if ((s.certFile === undefined) !== (s.keyFile === undefined)) {
    throw new ConfigError('TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together (mTLS needs both)');
  }
  const wantsTls = s.tls || s.caFile !== undefined || s.certFile !== undefined || s.serverName !== undefined || s.apiKey !== undefined;
  if (!wantsTls) return {};
  const tls: TLSConfig = {
    ...(s.serverName ? { serverNameOverride: s.serverName } : {}),
    ...(s.caFile ? { serverRootCACertificate: read(s.caFile, 'TEMPORAL_TLS_CA') } : {}),
    ...(s.certFile && s.keyFile
      ? { clientCertPair: { crt: read(s.certFile, 'TEMPORAL_TLS_CERT'), key: read(s.keyFile, 'TEMPORAL_TLS_KEY') } }
      : {}),
  };
  // An API key (Temporal Cloud) is only ever sent over TLS.
  return { tls: Object.keys(tls).length > 0 ? tls : true, ...(s.apiKey ? { apiKey: s.apiKey } : {}) };
}

function read(file: string, variable: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new ConfigError(`${variable}: cannot read ${file}: ${(err as Error).message}`);
  }
}
