/**
 * Pure text formatting of the API commands (`flint volume …`): aligned tables,
 * field/value tables, human sizes and ages, and the json/yaml renderings. Nothing
 * here does I/O, so every function is unit-tested with plain values.
 */
import { stringify as toYaml } from 'yaml';

/** What `--output` accepts. */
export const OUTPUT_FORMATS = ['table', 'json', 'yaml'] as const;
/** A value of `--output`. */
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
 * The text for `--output`: JSON (2-space indent) or YAML of `data` exactly as given,
 * or the table that `table()` builds.
 */
export function render(format: OutputFormat, data: unknown, table: () => string): string {
  if (format === 'json') return `${JSON.stringify(data, null, 2)}\n`;
  if (format === 'yaml') return toYaml(data);
  return table();
}

/** Frames of the `--wait` spinner. */
export const SPINNER_FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'] as const;

/** The `--wait` progress line: `⠙ volume db-data: CREATING (3s)`. */
export function progressLine(tick: number, label: string, status: string, elapsedMs: number): string {
  const frame = SPINNER_FRAMES[tick % SPINNER_FRAMES.length]!;
  return `${frame} ${label}: ${status} (${Math.floor(elapsedMs / 1000)}s)`;
}
