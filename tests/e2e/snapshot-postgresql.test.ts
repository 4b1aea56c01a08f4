import test from 'ava';
import { registerSnapshotSuite } from './snapshot-suite.js';
import { noProcessesLeft } from '../helpers/processes.js';

registerSnapshotSuite('postgresql');

test.after.always('no process is left behind', noProcessesLeft);
