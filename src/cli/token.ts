/** `flint token create`: a new API token, straight into the configured database (works while Flint runs). */
import { createToken, ROLES, type Role } from '../db/index.js';
import { configOrExit, EXIT_CONFIG, openDatabase, roleLogger } from './runtime.js';

export async function runTokenCreate(opts: { project: string; role: string; name?: string; json?: boolean }): Promise<void> {
  const problems: string[] = [];
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(opts.project)) problems.push('--project: 1 to 64 letters, digits, ".", "-" or "_"');
  if (!(ROLES as readonly string[]).includes(opts.role)) problems.push(`--role: one of ${ROLES.join(', ')}`);
  if (problems.length) {
    process.stderr.write(`flint token create: ${problems.join('; ')}\n`);
    process.exit(EXIT_CONFIG);
  }
  const config = configOrExit();
  const db = await openDatabase(config, roleLogger('token', config), { migrate: true });
  try {
    const { token, principal } = await createToken(db.fork(), opts.project, opts.role as Role, opts.name);
    if (opts.json) process.stdout.write(`${JSON.stringify({ token, projectId: principal.projectId, project: principal.projectName, role: principal.role })}\n`);
    else process.stdout.write(`${token}\n`);
  } finally {
    await db.close();
  }
}
