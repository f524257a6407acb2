/** Client-side connection to Temporal, used by the API (the worker uses a NativeConnection). */
import { Client, Connection, type ClientOptions } from '@temporalio/client';

import type { ConnectionSecurity } from './connection-security';

export interface TemporalTarget {
  address: string;
  namespace: string;
  security?: ConnectionSecurity;
  /** Request id and tracing interceptors (src/tracing). */
  interceptors?: ClientOptions['interceptors'];
}

export async function connectClient(target: TemporalTarget): Promise<Client> {
  // Lazy: the API can start (and say "not ready") while Temporal is still down.
  const connection = Connection.lazy({ address: target.address, ...target.security });
  return new Client({ connection, namespace: target.namespace, ...(target.interceptors ? { interceptors: target.interceptors } : {}) });
}
