import { registerVolumeSuite } from './volume-suite.js';

registerVolumeSuite('sqlite');
