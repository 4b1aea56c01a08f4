import test from 'ava';
import { registerMigrateSuite } from './migrate-suite.js';
import { noProcessesLeft } from '../helpers/processes.js';

registerMigrateSuite('sqlite');

test.after.always('no process is left behind', noProcessesLeft);
