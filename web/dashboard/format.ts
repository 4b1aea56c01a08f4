/** How numbers, times and names read on the page. */

/** GiB with at most one decimal: 12, 3.5, 1 200. */
export function gib(n: number): string {
  const rounded = n >= 100 ? Math.round(n) : Math.round(n * 10) / 10;
  return rounded.toLocaleString('en');
}

/** Share of `part` in `whole` as a CSS width, clamped to 0–100 %. */
export function percent(part: number, whole: number): string {
  if (!(whole > 0)) return '0%';
  return `${Math.max(0, Math.min(100, (part / whole) * 100)).toFixed(1)}%`;
}

export function time(iso: string): string {
  return new Date(iso).toLocaleTimeString('en-GB');
}

export function dateTime(iso: string): string {
  const d = new Date(iso);
  return `${d.toLocaleDateString('en-CA')} ${d.toLocaleTimeString('en-GB')}`;
}

/** Status names as the API spells them (IN_USE), as people read them (in use). */
export function label(status: string): string {
  return status.toLowerCase().replace(/_/g, ' ');
}

/** CSS class of a status badge: ok, busy, bad or idle. */
export function tone(status: string): 'ok' | 'busy' | 'bad' | 'idle' {
  if (status === 'AVAILABLE' || status === 'IN_USE' || status === 'UP' || status === 'SUCCEEDED') return 'ok';
  if (status.startsWith('ERROR') || status === 'DOWN' || status === 'FAILED') return 'bad';
  if (status === 'PENDING' || status === 'RESERVED' || status === 'MAINTENANCE' || status === 'INFO') return 'idle';
  return 'busy';
}

export function shortId(id: string): string {
  return id.slice(0, 8);
}
