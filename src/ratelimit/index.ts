export { checkCapacity, type CapacityCheck } from './capacity';
export { clientAddress, keyByClientAddress, keyByPrincipalOrAddress, type RateLimitContext } from './client-key';
export { FixedWindowLimiter, type FixedWindowOptions, type RateLimitDecision } from './fixed-window';
export { rateLimit, rateLimitHeaders, type RateLimitOptions } from './middleware';
