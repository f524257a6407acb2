export { checkCapacity, type CapacityCheck } from './capacity';
export { clientAddress, keyByClientAddress, keyByPrincipalOrAddress, type RateLimitContext } from './client-key';
export { rateLimit, rateLimitHeaders, type RateLimitDecision, type RateLimitOptions, type RequestLimiter } from './middleware';
export {
  DEFAULT_BUDGET_PREFIX,
  postgresLimiter,
  requestLimits,
  type PostgresLimiterOptions,
  type RequestLimits,
  type RequestLimitsOptions,
} from './postgres';
