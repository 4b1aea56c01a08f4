import test from 'ava';
import { registerVolumeSuite } from './volume-suite.js';
import { noProcessesLeft } from '../helpers/processes.js';

registerVolumeSuite('sqlite');

test.after.always('no process is left behind', noProcessesLeft);
