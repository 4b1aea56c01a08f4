// The short chaos run (tests/chaos/chaos.test.ts), after the rest of `npm test` and alone: it runs
// the whole production topology under faults, which would starve the tests beside it of CPU.
export default {
  files: ['dist/tests/chaos/**/*.test.js'],
  timeout: '30m',
  concurrency: 1,
  workerThreads: false,
  require: ['./dist/tests/helpers/worker-setup.js'],
};
