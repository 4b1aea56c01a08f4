import test from 'ava';
import { registerLifecycleRaceSuite } from './lifecycle-race-suite.js';
import { noProcessesLeft } from '../helpers/processes.js';

registerLifecycleRaceSuite('postgresql');

test.after.always('no process is left behind', noProcessesLeft);
