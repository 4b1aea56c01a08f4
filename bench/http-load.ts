/**
 * Closed-loop HTTP load for the read benchmarks: `concurrency` clients, each on its own
 * keep-alive connection, POST one GraphQL body again and again for a while. Also what a
 * server process spent doing it (/proc), since CPU per request swings less with other work
 * on the machine than throughput does.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';

/** POSTs `body` over a keep-alive agent; resolves with the status and the body. */
export function post(agent: Agent, url: URL, headers: Record<string, string>, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

export interface LoadSpec {
  url: string;
  /** A bearer token, or none (a server without authentication). */
  token?: string;
  /** The GraphQL request. */
  query: string;
  variables?: Record<string, unknown>;
}

/** Completed requests per second of `concurrency` closed loops for `seconds`. Any failed request (HTTP error or GraphQL errors) ends the run. */
export async function closedLoop(spec: LoadSpec, concurrency: number, seconds: number): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const target = new URL(spec.url);
  const headers: Record<string, string> = spec.token ? { authorization: `Bearer ${spec.token}` } : {};
  const body = JSON.stringify({ query: spec.query, variables: spec.variables ?? {} });
  let done = 0;
  const until = performance.now() + seconds * 1000;
  try {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < until) {
          const r = await post(agent, target, headers, body);
          if (r.status !== 200 || r.text.includes('"errors"')) throw new Error(`${spec.query.slice(0, 60)} failed: HTTP ${r.status} ${r.text.slice(0, 300)}`);
          done += 1;
        }
      }),
    );
  } finally {
    agent.destroy();
  }
  return done / seconds;
}

/** The pid of the gateway process listening on `port` (a child of this process, found by its FLINT_LISTEN). */
export function gatewayPid(port: string): string {
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (!argv.includes('gateway')) continue;
      const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      if (env.includes(`FLINT_LISTEN=127.0.0.1:${port}`)) return pid;
    } catch {
      // gone meanwhile, or not ours
    }
  }
  throw new Error(`no gateway process listens on port ${port}`);
}

/** CPU seconds (user + system) a process used so far. */
export function cpuSecondsOf(pid: string | number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** One round of `spec` against the process `pid`: requests per second, and its CPU microseconds per request. */
export async function measuredRound(spec: LoadSpec, pid: string | number, concurrency: number, seconds: number): Promise<{ rps: number; cpuUs: number }> {
  const cpu0 = cpuSecondsOf(pid);
  const rps = await closedLoop(spec, concurrency, seconds);
  const cpu = cpuSecondsOf(pid) - cpu0;
  return { rps, cpuUs: (cpu * 1e6) / (rps * seconds) };
}
