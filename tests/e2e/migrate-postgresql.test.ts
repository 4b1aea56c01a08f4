import test from 'ava';
import { registerMigrateSuite } from './migrate-suite.js';
import { noProcessesLeft } from '../helpers/processes.js';

registerMigrateSuite('postgresql');

test.after.always('no process is left behind', noProcessesLeft);
