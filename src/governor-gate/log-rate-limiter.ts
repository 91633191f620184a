// the limiter lives with the logging platform now; kept here for imports of its old home
export { LogRateLimiter } from '../platform/logging/log-rate-limiter.js';
