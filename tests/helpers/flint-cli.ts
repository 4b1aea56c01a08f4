/** Runs the real `flint` binary (bin/flint.js) the way a user does, for CLI end-to-end tests. */
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { processMarker } from './processes.js';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
export const FLINT_BIN = join(ROOT, 'bin', 'flint.js');

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `flint args…` against a gateway (asynchronously: a cluster's log pipes live in
 * the test process). Killed after 60 s.
 */
export function runFlint(opts: { cwd: string; url: string; token: string }, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const child = spawn(process.execPath, [FLINT_BIN, ...args], {
    cwd: opts.cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, FLINT_URL: opts.url, FLINT_TOKEN: opts.token, ...processMarker(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((done) =>
    child.once('close', (status) => {
      clearTimeout(timer);
      done({ status, stdout, stderr });
    }),
  );
}

/** stdout parsed as JSON (for `-o json`). */
export const json = <T>(r: Run): T => JSON.parse(r.stdout) as T;

/** The value of a `name   value` line of `show` output. */
export const field = (r: Run, name: string): string | undefined => new RegExp(`^${name}\\s+(.*)$`, 'm').exec(r.stdout)?.[1];
