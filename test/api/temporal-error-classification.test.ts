/**
 * How the gateway tells "Temporal is unreachable" and "the workflow is closed" from other
 * failures, on the error objects the client really throws: from a port nobody listens on, and
 * from the test server about a terminated workflow. Only gRPC status codes count, never the text.
 */
import { randomUUID } from 'node:crypto';
import { credentials, Client as GrpcClient, status } from '@grpc/grpc-js';
import { Client, Connection, ServiceError, WorkflowNotFoundError } from '@temporalio/client';
import { workflowIdFor } from '../../src/domain/evaluation';
import {
  isTemporalUnavailableError,
  isWorkflowClosedError,
  TemporalGateway,
  TemporalUnavailableError,
  WorkflowClosedError,
} from '../../src/temporal/gateway';
import { freePorts } from '../support/free-port';
import { temporalAddress } from '../support/harness';

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('an unreachable server', () => {
  let connection: Connection;
  let deadAddress: string;

  beforeAll(async () => {
    deadAddress = `127.0.0.1:${(await freePorts(1))[0]}`;
    connection = Connection.lazy({ address: deadAddress });
  });

  afterAll(async () => {
    await connection.close();
  });

  it('is unavailable when a raw call runs past its deadline (DEADLINE_EXCEEDED)', async () => {
    const error = await rejectionOf(connection.withDeadline(Date.now() + 2000, () => connection.workflowService.getSystemInfo({})));
    expect(error).toMatchObject({ code: status.DEADLINE_EXCEEDED });
    expect(isTemporalUnavailableError(error)).toBe(true);
    expect(isWorkflowClosedError(error)).toBe(false);
  });

  it('is unavailable when the SDK wraps that gRPC error in a ServiceError', async () => {
    const client = new Client({ connection });
    const error = await rejectionOf(
      connection.withDeadline(Date.now() + 2000, () =>
        client.workflow.start('anything', { taskQueue: 'nobody', workflowId: randomUUID() }),
      ),
    );
    expect(error).toBeInstanceOf(ServiceError);
    expect(isTemporalUnavailableError(error)).toBe(true);
    expect(isWorkflowClosedError(error)).toBe(false);
  });

  it('is unavailable when there is no connection at all (UNAVAILABLE)', async () => {
    const raw = new GrpcClient(deadAddress, credentials.createInsecure());
    try {
      const error = await new Promise<unknown>((resolve) =>
        raw.makeUnaryRequest(
          '/temporal.api.workflowservice.v1.WorkflowService/GetSystemInfo',
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.alloc(0),
          (e) => resolve(e),
        ),
      );
      expect(error).toMatchObject({ code: status.UNAVAILABLE });
      expect(isTemporalUnavailableError(error)).toBe(true);
    } finally {
      raw.close();
    }
  });

  it('makes the gateway throw TemporalUnavailableError', async () => {
    const gateway = new TemporalGateway(new Client({ connection }));
    await expect(gateway.runState(randomUUID())).rejects.toBeInstanceOf(TemporalUnavailableError);
  });
});

describe('a closed workflow', () => {
  let connection: Connection;
  let client: Client;
  const evaluationId = randomUUID();

  beforeAll(async () => {
    connection = await Connection.connect({ address: temporalAddress() });
    client = new Client({ connection });
    // Nobody polls the queue: the run only has to exist and then be closed.
    const handle = await client.workflow.start('anything', {
      taskQueue: `closed-${evaluationId}`,
      workflowId: workflowIdFor(evaluationId),
    });
    await handle.terminate('closed for the test');
  });

  afterAll(async () => {
    await connection.close();
  });

  it('is closed when the SDK reports it as WorkflowNotFoundError (an update to it)', async () => {
    const error = await rejectionOf(client.workflow.getHandle(workflowIdFor(evaluationId)).executeUpdate('approve', { args: [{}] }));
    expect(error).toBeInstanceOf(WorkflowNotFoundError);
    expect(isWorkflowClosedError(error)).toBe(true);
    expect(isTemporalUnavailableError(error)).toBe(false);
  });

  it('is closed when the server says so in a raw gRPC error (NOT_FOUND)', async () => {
    const error = await rejectionOf(
      client.workflowService.signalWorkflowExecution({
        namespace: client.options.namespace,
        workflowExecution: { workflowId: workflowIdFor(evaluationId) },
        signalName: 'anything',
        identity: 'test',
      }),
    );
    expect(error).toMatchObject({ code: status.NOT_FOUND });
    expect(isWorkflowClosedError(error)).toBe(true);
    expect(isTemporalUnavailableError(error)).toBe(false);
  });

  it('makes the gateway throw WorkflowClosedError for a review decision', async () => {
    await expect(new TemporalGateway(client).review(evaluationId, 'approve', { by: 'test' })).rejects.toBeInstanceOf(WorkflowClosedError);
  });
});

describe('other failures', () => {
  it('are neither, whatever their message says', async () => {
    const connection = await Connection.connect({ address: temporalAddress() });
    try {
      const invalid = await rejectionOf(connection.workflowService.describeNamespace({ namespace: '' }));
      expect(invalid).toMatchObject({ code: status.INVALID_ARGUMENT });
      expect(isTemporalUnavailableError(invalid)).toBe(false);
      expect(isWorkflowClosedError(invalid)).toBe(false);
    } finally {
      await connection.close();
    }
    const misleading = new Error('14 UNAVAILABLE: workflow execution already completed (deadline exceeded)');
    expect(isTemporalUnavailableError(misleading)).toBe(false);
    expect(isWorkflowClosedError(misleading)).toBe(false);
  });
});
