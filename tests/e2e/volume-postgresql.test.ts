import { registerVolumeSuite } from './volume-suite.js';

registerVolumeSuite('postgresql');
