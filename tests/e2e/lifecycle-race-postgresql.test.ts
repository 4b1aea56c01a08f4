import { registerLifecycleRaceSuite } from './lifecycle-race-suite.js';

registerLifecycleRaceSuite('postgresql');
