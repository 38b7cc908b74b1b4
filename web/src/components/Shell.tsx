import { useSignal, useSignalEffect } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import { currentUser, defaultWorkspaceId, signOut } from '../state/auth';
import { navigate, route, workspacePath } from '../state/router';
import { watchSessions } from '../state/sessions';
import { currentWorkspaceId, loadWorkspaces, selectWorkspace, workspaces } from '../state/workspaces';
import { ChatView } from './ChatView';
import { NewSessionForm } from './NewSessionForm';
import { SessionList } from './SessionList';
import { ThemeToggle } from './ThemeToggle';
import { WorkspacePicker } from './WorkspacePicker';

/** The signed-in app: header, sessions sidebar, and the open session. */
export function Shell() {
  const sidebarOpen = useSignal(false);
  const closeSidebar = () => (sidebarOpen.value = false);

  useEffect(() => {
    void loadWorkspaces().catch(() => {});
  }, []);

  // The workspace comes from the path; on `/`, from the last one used or the account's default.
  useSignalEffect(() => {
    const current = route.value;
    if (current.page === 'workspace') selectWorkspace(current.workspaceId);
    if (current.page === 'home') {
      const known = workspaces.value;
      const remembered = currentWorkspaceId.value;
      const target = remembered && (known.length === 0 || known.some((workspace) => workspace.id === remembered)) ? remembered : (defaultWorkspaceId() ?? known[0]?.id);
      if (target) navigate(workspacePath(target), { replace: true });
    }
  });
  useSignalEffect(() => watchSessions(currentWorkspaceId.value));

  const current = route.value;
  const workspaceId = currentWorkspaceId.value;
  return (
    <div class={`shell ${sidebarOpen.value ? 'sidebar-open' : ''}`}>
      <header class="app-header">
        <button type="button" class="sidebar-toggle icon-button" aria-expanded={sidebarOpen.value} aria-controls="sidebar" aria-label="Sessions menu" onClick={() => (sidebarOpen.value = !sidebarOpen.value)}>
          <span aria-hidden="true">☰</span>
        </button>
        <span class="brand">TokenDance</span>
        <WorkspacePicker />
        <span class="spacer" />
        <ThemeToggle />
        <span class="user-email muted" title={currentUser.value?.email}>
          {currentUser.value?.username || currentUser.value?.email}
        </span>
        <button type="button" onClick={() => void signOut()}>
          Sign out
        </button>
      </header>
      <aside id="sidebar" class="sidebar">
        {workspaceId && <NewSessionForm workspaceId={workspaceId} onCreated={closeSidebar} />}
        <SessionList onNavigate={closeSidebar} />
      </aside>
      <main class="main">
        {current.page === 'session' ? (
          <ChatView key={current.sessionId} sessionId={current.sessionId} />
        ) : (
          <div class="welcome">
            <h1>Start a session</h1>
            <p class="muted">Create a session on the left (or open the menu on a small screen), then give the agent a task.</p>
          </div>
        )}
      </main>
    </div>
  );
}
