/** The gateway's API limits (issue 11): depth, cost, aliases, fields, timeout, rates and WebSocket limits. */
export { createApiLimits, operationLimitsOf, DEFAULT_LIST_SIZE, type ApiLimits } from './api-limits.js';
export { limitsPlugin, keepOneTimeoutError } from './apollo-plugin.js';
export { admitHttp, type HttpAdmission, type HttpRefusal } from './http-admission.js';
export { DeadlineWatch, enforceDeadline, raceDeadline, TIMED_OUT, timeoutError, timeoutGraphQLError, type DeadlineHandle } from './deadline.js';
export { WsGuard, isSubscription, logClientFrameErrors, CLOSE_RATE_LIMITED, type SocketState } from './ws-guard.js';
export { assessOperation, limitErrorOf, MAX_SCHEMA_FIELDS, type Assessment, type OperationLimits } from './operation-check.js';
export { RequestGate, COST_PER_UNIT, errorBody } from './request-gate.js';
export { operationCost, type CostModel } from './cost.js';
export { measureOperation, operationOf, type OperationShape } from './document-shape.js';
export { TokenBuckets, retryAfterSeconds, type BucketSpec } from './token-bucket.js';
export { AuthFailureGuard } from './auth-guard.js';
export { addressKey, clientAddress } from './client-address.js';
export { ConnectionCounter } from './connection-counter.js';
