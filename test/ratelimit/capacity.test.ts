/** checkCapacity: admission by evaluations in progress, per tenant and for the whole service. */
import { ApiError } from '../../src/api/errors';
import { checkCapacity } from '../../src/api/ratelimit';

const limits = { perTenantMax: 3, totalMax: 10 };

describe('checkCapacity', () => {
  it('admits while both the tenant and the service are under their maximum', () => {
    expect(checkCapacity({ ...limits, tenantInFlight: 0, totalInFlight: 0 })).toBeNull();
    expect(checkCapacity({ ...limits, tenantInFlight: 2, totalInFlight: 9 })).toBeNull();
  });

  it('refuses a tenant at its maximum with 429 tenant_capacity and Retry-After', () => {
    const error = checkCapacity({ ...limits, tenantInFlight: 3, totalInFlight: 3 });
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({
      status: 429,
      code: 'tenant_capacity',
      headers: { 'Retry-After': '5' },
      details: { inFlight: 3, limit: 3, retryAfterSeconds: 5 },
    });
    expect(error!.message).toMatch(/3 evaluations in progress \(at most 3\)/);
  });

  it('refuses everyone with 503 service_capacity when the service is full', () => {
    const error = checkCapacity({ ...limits, tenantInFlight: 0, totalInFlight: 10, retryAfterSeconds: 2 });
    expect(error).toMatchObject({ status: 503, code: 'service_capacity', headers: { 'Retry-After': '2' } });
  });

  it("names the tenant's own cap first when both are reached", () => {
    expect(checkCapacity({ ...limits, tenantInFlight: 3, totalInFlight: 10 })).toMatchObject({ code: 'tenant_capacity' });
  });

  it('rejects counts and maximums that cannot be right', () => {
    expect(() => checkCapacity({ ...limits, tenantInFlight: -1, totalInFlight: 0 })).toThrow(RangeError);
    expect(() => checkCapacity({ ...limits, tenantInFlight: 0, totalInFlight: 0.5 })).toThrow(RangeError);
    expect(() => checkCapacity({ perTenantMax: 0, totalMax: 10, tenantInFlight: 0, totalInFlight: 0 })).toThrow(/perTenantMax/);
    expect(() => checkCapacity({ ...limits, tenantInFlight: 0, totalInFlight: 0, retryAfterSeconds: 0 })).toThrow(/retryAfterSeconds/);
  });
});
