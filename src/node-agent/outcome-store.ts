/**
 * Where an agent remembers the message it decided to send for each command, so a
 * redelivered command (same operation id and attempt) gets the same answer again
 * instead of redoing the work (ARCHITECTURE.md, "Create a volume", step 3).
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';

/** One message as it was (or is about to be) published. */
export interface RecordedMessage {
  subject: string;
  kind: string;
  payload: unknown;
  msgId: string;
}

export interface OutcomeStore {
  /** The message recorded for this operation and attempt, if any. */
  get(operationId: string, attempt: number): Promise<RecordedMessage | undefined>;
  /** Records durably (the agent publishes only once this resolves). */
  put(operationId: string, attempt: number, message: RecordedMessage): Promise<void>;
}

/** Records are kept this long, far beyond any redelivery. @default 7 days */
export const DEFAULT_OUTCOME_RETENTION_MS = 7 * 24 * 3600_000;

interface OperationFile {
  operationId: string;
  /** By attempt number: attempt 2 of a create may come back to another pool of the same host. */
  attempts: Record<string, RecordedMessage & { recordedAt: string }>;
}

/**
 * One JSON file per operation, `<dir>/<operationId>.json`, written to a temporary
 * name, fsynced and renamed, so a crash leaves the old record or the new one.
 * Callers serialise the commands of one volume, hence of one operation.
 */
export class FileOutcomeStore implements OutcomeStore {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  async get(operationId: string, attempt: number): Promise<RecordedMessage | undefined> {
    const rec = (await this.read(operationId))?.attempts[String(attempt)];
    if (!rec) return undefined;
    return { subject: rec.subject, kind: rec.kind, payload: rec.payload, msgId: rec.msgId };
  }

  async put(operationId: string, attempt: number, message: RecordedMessage): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true });
    const file = (await this.read(operationId)) ?? { operationId, attempts: {} };
    file.attempts[String(attempt)] = { ...message, recordedAt: new Date().toISOString() };
    const path = this.pathOf(operationId);
    const temp = `${path}.tmp-${randomBytes(4).toString('hex')}`;
    const handle = await fs.open(temp, 'w');
    try {
      await handle.writeFile(JSON.stringify(file));
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await fs.rename(temp, path);
    } catch (err) {
      await fs.rm(temp, { force: true });
      throw err;
    }
  }

  /** Removes records (and stray temporaries) older than `maxAgeMs`; returns how many files went. */
  async prune(maxAgeMs = DEFAULT_OUTCOME_RETENTION_MS, now = Date.now()): Promise<number> {
    let names: string[];
    try {
      names = await fs.readdir(this.dir);
    } catch {
      return 0;
    }
    let removed = 0;
    for (const name of names) {
      const path = join(this.dir, name);
      const st = await fs.stat(path).catch(() => undefined);
      if (st?.isFile() && now - st.mtimeMs > maxAgeMs) {
        await fs.rm(path, { force: true });
        removed += 1;
      }
    }
    return removed;
  }

  /** File of an operation: the id itself when it is a safe file name, else its sha256. */
  pathOf(operationId: string): string {
    const safe = /^[A-Za-z0-9_-]{1,128}$/.test(operationId) ? operationId : createHash('sha256').update(operationId).digest('hex');
    return join(this.dir, `${safe}.json`);
  }

  private async read(operationId: string): Promise<OperationFile | undefined> {
    let text: string;
    try {
      text = await fs.readFile(this.pathOf(operationId), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    let file: OperationFile;
    try {
      file = JSON.parse(text) as OperationFile;
    } catch {
      // Unreadable record (disk trouble): redoing the command is safe, the drivers are idempotent.
      return undefined;
    }
    // A sha256 file name could in theory be shared; the id inside settles it.
    return file.operationId === operationId ? file : undefined;
  }
}

/** In-memory store, for tests and tools. */
export class MemoryOutcomeStore implements OutcomeStore {
  readonly records = new Map<string, RecordedMessage>();

  async get(operationId: string, attempt: number): Promise<RecordedMessage | undefined> {
    return this.records.get(`${operationId}#${attempt}`);
  }

  async put(operationId: string, attempt: number, message: RecordedMessage): Promise<void> {
    this.records.set(`${operationId}#${attempt}`, message);
  }
}
