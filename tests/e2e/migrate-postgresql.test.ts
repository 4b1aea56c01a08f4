import { registerMigrateSuite } from './migrate-suite.js';

registerMigrateSuite('postgresql');
