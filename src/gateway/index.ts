/** The gateway role's public face. */
export { startGateway, type RunningGateway } from './gateway.js';
export { LiveHub } from './live/hub.js';
