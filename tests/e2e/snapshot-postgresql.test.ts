import { registerSnapshotSuite } from './snapshot-suite.js';

registerSnapshotSuite('postgresql');
