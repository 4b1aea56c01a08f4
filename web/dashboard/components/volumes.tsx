/** Every volume the token may see; rows change in place as events arrive. */
import type { Volume } from '../api';
import { dateTime } from '../format';
import { Badge } from './badge';

export function Volumes({ volumes, admin, loading }: { volumes: Volume[]; admin: boolean; loading: boolean }) {
  return (
    <section id="volumes" class="panel wide">
      <h2>
        Volumes <span class="count">{volumes.length}</span>
      </h2>
      {volumes.length === 0 ? (
        <p class="muted">{loading ? 'Loading volumes…' : 'No volumes yet.'}</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>Name</th>
              <th class="num">Size</th>
              <th>Status</th>
              <th>Zone</th>
              {admin && <th>Pool</th>}
              <th>Created</th>
            </tr>
          </thead>
          <tbody>
            {volumes.map((v) => (
              <tr key={v.id} data-volume-id={v.id} title={v.id}>
                <td>{v.name}</td>
                <td class="num">{v.sizeGiB} GiB</td>
                <td>
                  <Badge status={v.status} />
                </td>
                <td>{v.availabilityZone}</td>
                {admin && <td>{v.host && v.pool ? `${v.host}@${v.pool}` : '—'}</td>}
                <td class="num">{dateTime(v.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
