/** Work in progress and recent messages for the user. */
import type { Operation, UserMessage, Volume } from '../api';
import { dateTime, label, shortId, time } from '../format';
import { Badge } from './badge';

/** Names the resource of an operation or message: the volume's name when it is on screen. */
function Resource({ type, id, volumes }: { type: string; id: string; volumes: Map<string, Volume> }) {
  const name = type === 'volume' ? volumes.get(id)?.name : undefined;
  return (
    <span title={id}>
      {type} {name ?? shortId(id)}
    </span>
  );
}

/**
 * How far an operation is: a bar with its percentage once the API reports one (backups
 * will), an indeterminate bar while it runs, a word while it waits.
 */
function Progress({ op }: { op: Operation }) {
  if (typeof op.progress === 'number') {
    return (
      <progress max={100} value={op.progress} aria-label={`${op.progress}%`}>
        {op.progress}%
      </progress>
    );
  }
  if (op.status === 'RUNNING') return <progress aria-label="running" />;
  return <span class="muted">queued</span>;
}

export function Operations({ operations, volumes }: { operations: Operation[]; volumes: Map<string, Volume> }) {
  return (
    <section id="operations" class="panel">
      <h2>
        Running operations <span class="count">{operations.length}</span>
      </h2>
      {operations.length === 0 ? (
        <p class="muted">Nothing running.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>Operation</th>
              <th>On</th>
              <th>Status</th>
              <th>Progress</th>
              <th>Started</th>
            </tr>
          </thead>
          <tbody>
            {operations.map((op) => (
              <tr key={op.id} data-operation-id={op.id}>
                <td>{label(op.kind)}</td>
                <td>
                  <Resource type={op.resourceType} id={op.resourceId} volumes={volumes} />
                </td>
                <td>
                  <Badge status={op.status} />
                </td>
                <td>
                  <Progress op={op} />
                </td>
                <td class="num">{time(op.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

export function Messages({ messages, volumes }: { messages: UserMessage[]; volumes: Map<string, Volume> }) {
  return (
    <section id="messages" class="panel">
      <h2>Recent messages</h2>
      {messages.length === 0 ? (
        <p class="muted">No messages: nothing failed recently.</p>
      ) : (
        <ul class="messages">
          {messages.map((m) => (
            <li key={m.id} class={`message message-${m.level.toLowerCase()}`} data-message-id={m.id}>
              <div class="message-head">
                <Badge status={m.level} />
                <span>{label(m.event)}</span>
                <Resource type={m.resourceType} id={m.resourceId} volumes={volumes} />
                <span class="spacer" />
                <span class="muted small">{dateTime(m.createdAt)}</span>
              </div>
              <p>{m.message}</p>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
