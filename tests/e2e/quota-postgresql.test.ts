import test from 'ava';
import { registerQuotaSuite } from './quota-suite.js';
import { noProcessesLeft } from '../helpers/processes.js';

registerQuotaSuite('postgresql');

test.after.always('no process is left behind', noProcessesLeft);
