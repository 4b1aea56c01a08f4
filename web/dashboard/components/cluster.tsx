/** Pools with their capacity, and the services with their heartbeats (admins only). */
import type { Pool, Service } from '../api';
import { gib, percent, time } from '../format';
import { Badge } from './badge';

function Placeholder({ error, what }: { error: string | null; what: string }) {
  if (error) return <p class="muted">{/FORBIDDEN|admin/i.test(error) ? `${what} are shown to admins.` : error}</p>;
  return <p class="muted">Waiting for {what.toLowerCase()}…</p>;
}

/**
 * Physical use of the pool (used and free, out of its total) and what Flint has promised
 * (allocated, out of total × over-subscription ratio, the scheduler's thin limit).
 */
function Capacity({ pool }: { pool: Pool }) {
  const total = pool.totalCapacityGiB;
  const free = pool.freeCapacityGiB;
  const used = Math.max(0, total - free);
  const limit = total * pool.maxOverSubscriptionRatio;
  return (
    <div class="capacity">
      <div class="bar" role="img" aria-label={`${gib(used)} of ${gib(total)} GiB used`}>
        <span class="fill used" style={{ width: percent(used, total) }} />
      </div>
      <div class="legend">
        <span>
          <i class="key used" /> used <b data-field="used">{gib(used)}</b> GiB
        </span>
        <span>
          <i class="key free" /> free <b data-field="free">{gib(free)}</b> GiB
        </span>
        <span>
          of <b data-field="total">{gib(total)}</b> GiB
        </span>
      </div>
      <div class="bar thin" role="img" aria-label={`${gib(pool.allocatedCapacityGiB)} GiB allocated`}>
        <span class="fill allocated" style={{ width: percent(pool.allocatedCapacityGiB, limit) }} />
      </div>
      <div class="legend">
        <span>
          <i class="key allocated" /> allocated <b data-field="allocated">{gib(pool.allocatedCapacityGiB)}</b> GiB
        </span>
        <span class="muted">
          limit {gib(limit)} GiB (×{pool.maxOverSubscriptionRatio})
        </span>
      </div>
    </div>
  );
}

export function Pools({ pools, error }: { pools: Pool[] | null; error: string | null }) {
  return (
    <section id="pools" class="panel">
      <h2>
        Pools {pools && <span class="count">{pools.length}</span>}
      </h2>
      {!pools ? (
        <Placeholder error={error} what="Pools" />
      ) : pools.length === 0 ? (
        <p class="muted">No agent reports a pool.</p>
      ) : (
        <ul class="pools">
          {pools.map((p) => (
            <li key={p.id} class="pool" data-pool-id={p.id}>
              <div class="pool-head">
                <strong>{p.id}</strong>
                <Badge status={p.state} />
              </div>
              <div class="muted small">
                zone {p.availabilityZone} · {p.volumeCount} volume{p.volumeCount === 1 ? '' : 's'} · beat {time(p.updatedAt)}
              </div>
              <Capacity pool={p} />
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

export function Services({ services, error }: { services: Service[] | null; error: string | null }) {
  return (
    <section id="services" class="panel">
      <h2>
        Services {services && <span class="count">{services.length}</span>}
      </h2>
      {!services ? (
        <Placeholder error={error} what="Services" />
      ) : (
        <table>
          <thead>
            <tr>
              <th>Role</th>
              <th>Host</th>
              <th>Zone</th>
              <th>State</th>
              <th>Last heartbeat</th>
            </tr>
          </thead>
          <tbody>
            {services.map((s) => (
              <tr key={`${s.role}/${s.host}`} data-service={`${s.role} ${s.host}`}>
                <td>{s.role}</td>
                <td>{s.host}</td>
                <td>{s.zone}</td>
                <td>
                  <Badge status={s.state} />
                </td>
                <td class="num">{time(s.lastHeartbeatAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
