/**
 * Pure text formatting of the API commands (`flint volume …`): aligned tables,
 * field/value tables, human sizes and ages, and the json/yaml renderings. Nothing
 * here does I/O, so every function is unit-tested with plain values.
 */
import { stringify as toYaml } from 'yaml';

/** What `-o/--output` and `-f/--format` accept. */
export const OUTPUT_FORMATS = ['table', 'json', 'yaml', 'value', 'csv'] as const;
/** A value of `--output` or `--format`. */
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** How a column's cells line up. */
export type Align = 'left' | 'right';

/** Shown for a missing value (null, undefined, empty string). */
export const NONE = '-';

/**
 * A size in GiB for people: `512 MiB`, `20 GiB`, `95.3 GiB`, `1.5 TiB` (one decimal
 * at most, none when whole).
 */
export function formatGiB(gib: number): string {
  if (!Number.isFinite(gib)) return NONE;
  const abs = Math.abs(gib);
  if (abs > 0 && abs < 1) return `${trimNumber(gib * 1024)} MiB`;
  if (abs >= 1024 * 1024) return `${trimNumber(gib / (1024 * 1024))} PiB`;
  if (abs >= 1024) return `${trimNumber(gib / 1024)} TiB`;
  return `${trimNumber(gib)} GiB`;
}

function trimNumber(n: number): string {
  const rounded = Math.round(n * 10) / 10;
  return Number.isInteger(rounded) ? String(rounded) : rounded.toFixed(1);
}

/** How long ago `iso` was, relative to `now`: `4s ago`, `3m ago`, `2h ago`, `5d ago`. */
export function formatAge(iso: string, now: number): string {
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return iso;
  const s = Math.max(0, Math.round((now - then) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}

/** An object of properties as `a='1', b='2'` (OpenStack's way), keys sorted; `-` when empty. */
export function formatProperties(props: Record<string, unknown> | null | undefined): string {
  const keys = Object.keys(props ?? {}).sort();
  if (!keys.length) return NONE;
  return keys.map((k) => `${k}='${String(props![k])}'`).join(', ');
}

/** A cell's text: `-` for null, undefined and ''; strings as they are; the rest with String(). */
export function cell(value: unknown): string {
  if (value === null || value === undefined || value === '') return NONE;
  return typeof value === 'string' ? value : String(value);
}

/**
 * Columns aligned with two spaces between them, a header row in capitals and a
 * dashed rule under it. A cell with newlines takes several lines; `align` gives each
 * column's alignment (left by default). Ends with a newline.
 */
export function renderTable(headers: readonly string[], rows: ReadonlyArray<readonly string[]>, align: readonly Align[] = []): string {
  const head = headers.map((h) => h.toUpperCase());
  const split = rows.map((r) => head.map((_, i) => (r[i] ?? '').split('\n')));
  const widths = head.map((h, i) => Math.max(h.length, ...split.map((r) => Math.max(...r[i]!.map((l) => l.length)))));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (align[i] === 'right' ? c.padStart(widths[i]!) : i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const out = [line(head), line(widths.map((w) => '-'.repeat(w)))];
  for (const r of split) {
    const height = Math.max(...r.map((lines) => lines.length));
    for (let k = 0; k < height; k++) out.push(line(r.map((lines) => lines[k] ?? '')));
  }
  return `${out.join('\n')}\n`;
}

/** One object as a two-column `FIELD  VALUE` table (`flint volume show`). */
export function renderFields(fields: ReadonlyArray<readonly [string, string]>): string {
  return renderTable(['Field', 'Value'], fields.map(([k, v]) => [k, v]));
}

/**
 * The text for `--output`/`--format`: JSON (2-space indent) or YAML of `data` exactly as
 * given, the table that `table()` builds, or `value`/`csv` of `data`'s fields. With
 * `columns` (`-c`), every format shows only those fields of `data` (see {@link selectColumns}).
 * @throws ColumnError for a column `data` does not have.
 */
export function render(format: OutputFormat, data: unknown, table: () => string, columns: readonly string[] = []): string {
  if (!columns.length && format !== 'value' && format !== 'csv') {
    if (format === 'json') return `${JSON.stringify(data, null, 2)}\n`;
    if (format === 'yaml') return toYaml(data);
    return table();
  }
  const sel = selectColumns(data, columns);
  switch (format) {
    case 'value':
      return renderValue(sel);
    case 'csv':
      return renderCsv(sel);
    case 'json':
      return `${JSON.stringify(selectionObjects(sel), null, 2)}\n`;
    case 'yaml':
      return toYaml(selectionObjects(sel));
    default:
      return sel.single ? renderFields(sel.columns.map((c, i) => [c, cell(plain(sel.rows[0]![i]))])) : renderTable(sel.columns, sel.rows.map((r) => r.map((v) => cell(plain(v)))));
  }
}

/** A column `-c` asked for that the output does not have. */
export class ColumnError extends Error {
  constructor(
    readonly column: string,
    readonly available: readonly string[],
  ) {
    super(`No column "${column}" here; the columns are: ${available.join(', ') || '(none: the list is empty)'}.`);
    this.name = 'ColumnError';
  }
}

/** The fields `-c` selected: their names, one row of values per object, and whether `data` was one object (not a list). */
export interface Selection {
  columns: string[];
  rows: unknown[][];
  single: boolean;
}

/** `volumeType`, `volume_type`, `Volume-Type` and `VOLUME TYPE` are one column. */
const normalize = (name: string) => name.replace(/[-_\s]/g, '').toLowerCase();

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The value of column `name` in `row`: a key (exact, or ignoring case, `_`, `-` and
 * spaces: `size_gib` is `sizeGiB`), a dotted path (`operation.id`), or, when `row`
 * has no such key, the key of its first nested object that has it (a mutation's
 * result `{volume, operation}`: `id` is the volume's id). `found` is false when none.
 */
export function lookupColumn(row: unknown, name: string): { found: boolean; value: unknown } {
  if (!isRecord(row)) return { found: false, value: undefined };
  const key = (o: Record<string, unknown>, n: string) => (n in o ? n : Object.keys(o).find((k) => normalize(k) === normalize(n)));
  const direct = key(row, name);
  if (direct !== undefined) return { found: true, value: row[direct] };
  const dot = name.indexOf('.');
  if (dot > 0) {
    const head = key(row, name.slice(0, dot));
    if (head !== undefined) return lookupColumn(row[head], name.slice(dot + 1));
  }
  for (const v of Object.values(row)) {
    if (!isRecord(v)) continue;
    const nested = key(v, name);
    if (nested !== undefined) return { found: true, value: v[nested] };
  }
  return { found: false, value: undefined };
}

/**
 * The fields of `data` (an object, or a list of objects) that `columns` name, in the
 * order given; without columns, every top-level field of the first object (of each
 * object of a mutation's result `{volume, operation}`: the resource's).
 * @throws ColumnError when an object lacks a column.
 */
export function selectColumns(data: unknown, columns: readonly string[]): Selection {
  const single = !Array.isArray(data);
  const list: unknown[] = single ? [data] : (data as unknown[]);
  const first = list[0];
  let names = [...columns];
  if (!names.length && isRecord(first)) {
    // A mutation's result wraps the resource: show the resource's fields.
    const values = Object.values(first);
    const inner = values.length > 0 && values.every((v) => isRecord(v) || v === null) ? values.find(isRecord) : undefined;
    names = Object.keys(inner ?? first);
  }
  const rows = list.map((row) =>
    names.map((name) => {
      const { found, value } = lookupColumn(row, name);
      if (!found) throw new ColumnError(name, isRecord(row) ? Object.keys(row) : []);
      return value;
    }),
  );
  return { columns: names, rows, single };
}

/** A field's text for value and csv: '' for null/undefined, objects and lists as compact JSON. */
export function plain(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/**
 * `-f value`: the values of each object on one line, separated by one space, no header
 * (openstack's `-f value`); a missing value is an empty string.
 */
export function renderValue(sel: Selection): string {
  return sel.rows.map((r) => `${r.map(plain).join(' ')}\n`).join('');
}

/** One CSV field (RFC 4180): quoted when it holds a comma, a double quote, CR or LF; quotes doubled. */
export function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** `-f csv`: a header row of the column names, then one row per object (RFC 4180 quoting; lines end with LF). */
export function renderCsv(sel: Selection): string {
  const line = (cells: readonly string[]) => `${cells.map(csvField).join(',')}\n`;
  return line(sel.columns) + sel.rows.map((r) => line(r.map(plain))).join('');
}

/** The selection as objects again (`-c` with json or yaml): one object, or a list. */
function selectionObjects(sel: Selection): unknown {
  const objects = sel.rows.map((r) => Object.fromEntries(sel.columns.map((c, i) => [c, r[i] ?? null])));
  return sel.single ? objects[0] : objects;
}

/** Frames of the `--wait` spinner. */
export const SPINNER_FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'] as const;

/** The `--wait` progress line: `⠙ volume db-data: CREATING (3s)`. */
export function progressLine(tick: number, label: string, status: string, elapsedMs: number): string {
  const frame = SPINNER_FRAMES[tick % SPINNER_FRAMES.length]!;
  return `${frame} ${label}: ${status} (${Math.floor(elapsedMs / 1000)}s)`;
}
