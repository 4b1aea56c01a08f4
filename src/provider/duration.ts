/** Durations as stack files write them (`30m`, `6h`, `1d`). Pure. */

const UNIT_SECONDS: Record<string, number> = { m: 60, h: 3600, d: 86_400 };

/** Seconds of `text` (a whole number then m, h or d, at least one minute), or null when it is not one. */
export function parseDuration(text: string): number | null {
  const m = /^([1-9][0-9]{0,5})([mhd])$/.exec(text.trim());
  return m ? Number(m[1]) * UNIT_SECONDS[m[2]!]! : null;
}

/** A duration in the largest unit that divides it (`90m`, `6h`, `2d`), as a plan prints an age or a period. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s >= 86_400 && s % 86_400 === 0) return `${s / 86_400}d`;
  if (s >= 3600 && s % 3600 === 0) return `${s / 3600}h`;
  if (s >= 3600) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 60)}m`;
}
