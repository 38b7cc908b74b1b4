import { messageOf } from '../api/client';
import { navigate, workspacePath } from '../state/router';
import { addWorkspace, currentWorkspaceId, workspaces } from '../state/workspaces';

export function WorkspacePicker() {
  const choose = async (value: string) => {
    if (value !== '__new__') return navigate(workspacePath(value));
    const name = window.prompt('Name of the new workspace');
    if (!name?.trim()) return;
    try {
      navigate(workspacePath((await addWorkspace(name.trim())).id));
    } catch (error) {
      window.alert(messageOf(error));
    }
  };
  return (
    <label class="workspace-picker">
      <span class="visually-hidden">Workspace</span>
      <select value={currentWorkspaceId.value ?? ''} onChange={(event) => void choose(event.currentTarget.value)}>
        {workspaces.value.map((workspace) => (
          <option key={workspace.id} value={workspace.id}>
            {workspace.name}
          </option>
        ))}
        <option value="__new__">+ New workspace…</option>
      </select>
    </label>
  );
}
