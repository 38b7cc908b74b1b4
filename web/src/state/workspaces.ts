import { signal } from '@preact/signals';
import { createWorkspace, listWorkspaces } from '../api/endpoints';
import type { Workspace } from '../api/types';

const KEY = 'tokendance.workspace';

export const workspaces = signal<Workspace[]>([]);
export const currentWorkspaceId = signal<string | null>(localStorage.getItem(KEY));

export async function loadWorkspaces(): Promise<void> {
  workspaces.value = (await listWorkspaces()).items;
}

export function selectWorkspace(workspaceId: string): void {
  if (currentWorkspaceId.value === workspaceId) return;
  currentWorkspaceId.value = workspaceId;
  localStorage.setItem(KEY, workspaceId);
}

export async function addWorkspace(name: string): Promise<Workspace> {
  const workspace = await createWorkspace(name);
  workspaces.value = [...workspaces.value, workspace];
  return workspace;
}
