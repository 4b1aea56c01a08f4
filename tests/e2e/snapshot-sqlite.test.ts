import { registerSnapshotSuite } from './snapshot-suite.js';

registerSnapshotSuite('sqlite');
