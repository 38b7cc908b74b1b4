import { route, sessionPath } from '../state/router';
import { sessions, sessionsError } from '../state/sessions';
import { Link } from './Link';
import { StatusBadge } from './StatusBadge';

const when = (iso: string) => new Date(iso).toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'short' });

export function SessionList({ onNavigate }: { onNavigate?: () => void }) {
  const current = route.value.page === 'session' ? route.value.sessionId : null;
  return (
    <nav aria-label="Sessions" class="session-list">
      <h2 class="panel-title">Sessions</h2>
      {sessionsError.value && <p class="error">{sessionsError.value}</p>}
      {sessions.value.length === 0 && <p class="muted">No sessions yet.</p>}
      <ul>
        {sessions.value.map((session) => (
          <li key={session.id}>
            <Link href={sessionPath(session.id)} class={session.id === current ? 'session-link active' : 'session-link'} aria-current={session.id === current ? "page" : undefined} onNavigate={onNavigate}>
              <span class="session-title">{session.title}</span>
              <span class="session-meta">
                <StatusBadge status={session.status} />
                <span class="muted">{session.task_type}</span>
                <time dateTime={session.updated_at}>{when(session.updated_at)}</time>
              </span>
            </Link>
          </li>
        ))}
      </ul>
    </nav>
  );
}
