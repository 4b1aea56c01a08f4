/** The gateway role's public face. */
export { startGateway, type RunningGateway } from './server.js';
export { LiveHub } from './live.js';
