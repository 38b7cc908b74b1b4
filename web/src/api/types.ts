/** Shapes of the TokenDance API (SPEC §3–§6) as the web app reads them. */

export interface User {
  id: string;
  email: string;
  username: string;
  created_at: string;
}

export interface TokenPair {
  access_token: string;
  refresh_token: string;
  token_type: 'bearer';
  expires_in: number;
}

export interface AuthResult extends TokenPair {
  user: User;
  default_workspace_id: string;
}

export interface Workspace {
  id: string;
  name: string;
  role: string;
  created_at: string;
}

export type SessionStatus = 'created' | 'running' | 'completed' | 'error';

export interface Session {
  id: string;
  workspace_id: string;
  title: string;
  task_type: string;
  status: SessionStatus;
  created_at: string;
  updated_at: string;
}

export interface SessionDetails extends Session {
  message_count?: number;
  current_run?: { id: string; state: string; started_at: string | null } | null;
  pending_approvals?: number;
}

export interface ToolCallRecord {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface Message {
  id: string;
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
  tool_calls?: ToolCallRecord[];
  tool_call_id?: string;
  created_at: string;
}

export interface Artifact {
  id: string;
  name: string;
  path: string;
  mime_type: string;
  size: number;
  created_at: string;
  download_url: string;
}

export interface WorkingMemoryDocument {
  content: string;
  metadata: { title: string; status: string; updated_at: string; version: number } | null;
}

export interface WorkingMemory {
  session_id: string;
  task_plan: WorkingMemoryDocument;
  findings: WorkingMemoryDocument;
  progress: WorkingMemoryDocument;
}

export type RiskLevel = 'low' | 'medium' | 'high';

/** A pending approval, whether it came from `GET …/hitl/pending` or a `confirm_required` event. */
export interface Approval {
  id: string;
  runId: string;
  /** The tool call the approval is bound to. */
  callId: string;
  tool: string;
  args: unknown;
  operation: string;
  description: string;
  risk: RiskLevel;
  expiresAt: string;
}

export interface PendingApprovalRecord {
  request_id: string;
  session_id: string;
  run_id: string;
  operation: string;
  description: string;
  context: { tool: string; args: unknown; call_id: string };
  risk_level: RiskLevel;
  created_at: string;
  expires_at: string;
}

export interface List<T> {
  items: T[];
  total: number;
}
