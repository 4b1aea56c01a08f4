/** The caller's project's usage against its limits (`viewer.quotaSet`): in use, reserved, and what is left. */
import type { QuotaSet, QuotaUsage } from '../api';
import { percent } from '../format';

const LINES: Array<[keyof QuotaSet, string, string]> = [
  ['volumes', 'Volumes', ''],
  ['gigabytes', 'Gigabytes', ' GiB'],
  ['snapshots', 'Snapshots', ''],
  ['backups', 'Backups', ''],
  ['backupGigabytes', 'Backup gigabytes', ' GiB'],
];

function Line({ name, usage, unit }: { name: string; usage: QuotaUsage; unit: string }) {
  const held = usage.inUse + usage.reserved;
  const unlimited = usage.limit === -1;
  const full = !unlimited && held >= usage.limit;
  return (
    <div class="quota-line" data-quota={name}>
      <div class="legend">
        <span>{name}</span>
        <span>
          <b data-field="in-use">{usage.inUse}</b>
          {usage.reserved > 0 && <span class="muted"> + {usage.reserved} reserved</span>} of <b data-field="limit">{unlimited ? 'unlimited' : `${usage.limit}${unit}`}</b>
        </span>
      </div>
      {!unlimited && (
        <div class={`bar thin${full ? ' full' : ''}`} role="img" aria-label={`${held} of ${usage.limit}${unit} used`}>
          <span class="fill used" style={{ width: percent(usage.inUse, usage.limit) }} />
          <span class="fill allocated" style={{ width: percent(usage.reserved, usage.limit) }} />
        </div>
      )}
    </div>
  );
}

export function Quota({ quota }: { quota: QuotaSet | null }) {
  return (
    <section id="quota" class="panel">
      <h2>Quota</h2>
      {!quota ? (
        <p class="muted">Loading the quota…</p>
      ) : (
        LINES.map(([key, name, unit]) => <Line key={key} name={name} usage={quota[key]} unit={unit} />)
      )}
    </section>
  );
}
