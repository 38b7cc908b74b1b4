import { useSignal } from '@preact/signals';
import { messageOf } from '../api/client';
import { navigate, sessionPath } from '../state/router';
import { newSession } from '../state/sessions';

/** Built-in profiles (SPEC §8.4); a server may define more, which can be typed in. */
const PROFILES = ['general', 'deep-research'];

export function NewSessionForm({ workspaceId, onCreated }: { workspaceId: string; onCreated?: () => void }) {
  const title = useSignal('');
  const taskType = useSignal('general');
  const error = useSignal<string | null>(null);
  const busy = useSignal(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    busy.value = true;
    error.value = null;
    try {
      const session = await newSession(workspaceId, title.value.trim() || undefined, taskType.value.trim() || undefined);
      title.value = '';
      onCreated?.();
      navigate(sessionPath(session.id));
    } catch (failure) {
      error.value = messageOf(failure);
    } finally {
      busy.value = false;
    }
  };

  return (
    <form class="new-session stack" onSubmit={submit} aria-label="New session">
      <label>
        Title
        <input type="text" name="title" maxLength={200} placeholder="New session" value={title.value} onInput={(event) => (title.value = event.currentTarget.value)} />
      </label>
      <label>
        Task type
        <input type="text" name="task_type" list="task-types" maxLength={100} value={taskType.value} onInput={(event) => (taskType.value = event.currentTarget.value)} />
        <datalist id="task-types">
          {PROFILES.map((profile) => (
            <option key={profile} value={profile} />
          ))}
        </datalist>
      </label>
      {error.value && (
        <p class="error" role="alert">
          {error.value}
        </p>
      )}
      <button type="submit" class="primary" disabled={busy.value}>
        New session
      </button>
    </form>
  );
}
