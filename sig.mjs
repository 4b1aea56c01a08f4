import { spawn } from 'node:child_process';
const env = { ...process.env, FLINT_DATA_DIR: '/tmp/sigdir', FLINT_NATS_URL: 'nats://127.0.0.1:14444', FLINT_AGENT_HOST: 'sig', FLINT_LOG_LEVEL: 'info', FLINT_ISCSI_PORT: '45999', FLINT_NBD_PORTS: '46000-46010', FLINT_POOLS: JSON.stringify([{ name: 'p', imageFormat: 'raw', capacityGiB: 10, directory: '/tmp/sigdir/pool' }]) };
const t0 = Date.now();
const c = spawn(process.execPath, ['bin/flint.js', 'agent'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
let sent = false;
c.stdout.on('data', (d) => { for (const l of String(d).split('\n').filter(Boolean)) console.log(Date.now() - t0, JSON.parse(l).msg); if (!sent) { sent = true; setTimeout(() => { console.log(Date.now() - t0, 'SIGTERM'); c.kill('SIGTERM'); }, Number(process.argv[2])); } });
c.stderr.on('data', (d) => console.log('ERR', String(d)));
c.on('exit', (code, sig) => console.log(Date.now() - t0, 'exit', code, sig));
