import { label, tone } from '../format';

/** A status word in a coloured pill; `data-status` carries the API's spelling for tests and styles. */
export function Badge({ status }: { status: string }) {
  return (
    <span class={`badge badge-${tone(status)}`} data-status={status}>
      {label(status)}
    </span>
  );
}
