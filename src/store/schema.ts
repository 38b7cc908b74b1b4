import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

/**
 * Row shapes of every table. Timestamps are ISO-8601 UTC strings with milliseconds
 * (fixed width, so they sort as text on both SQLite and PostgreSQL); JSON columns are text.
 */
export interface Database {
  users: UsersTable;
  token_families: TokenFamiliesTable;
  refresh_tokens: RefreshTokensTable;
  stream_tickets: StreamTicketsTable;
  login_failures: LoginFailuresTable;
  workspaces: WorkspacesTable;
  workspace_members: WorkspaceMembersTable;
  sessions: SessionsTable;
  messages: MessagesTable;
  runs: RunsTable;
  events: EventsTable;
  approvals: ApprovalsTable;
  artifacts: ArtifactsTable;
  files: FilesTable;
}

export interface UsersTable {
  id: string;
  email: string;
  username: string;
  password_hash: string;
  created_at: string;
}

/** One login = one family of refresh tokens; access tokens name their family in `fam`. */
export interface TokenFamiliesTable {
  id: string;
  user_id: string;
  created_at: string;
  revoked_at: string | null;
  revoked_reason: string | null;
}

export interface RefreshTokensTable {
  id: string;
  family_id: string;
  token_hash: string;
  created_at: string;
  expires_at: string;
  used_at: string | null;
}

export interface StreamTicketsTable {
  ticket_hash: string;
  user_id: string;
  created_at: string;
  expires_at: string;
  used_at: string | null;
}

export interface LoginFailuresTable {
  id: Generated<number>;
  /** 'email:<address>' or 'ip:<address>'. */
  subject: string;
  created_at: string;
}

export interface WorkspacesTable {
  id: string;
  name: string;
  owner_id: string;
  created_at: string;
  /** JSON object of tool-name pattern → allow|ask|deny, layered over `[tools.policy]`; null = none. */
  tool_policy: string | null;
}

export interface WorkspaceMembersTable {
  workspace_id: string;
  user_id: string;
  role: string;
  created_at: string;
}

export interface SessionsTable {
  id: string;
  workspace_id: string;
  user_id: string;
  title: string;
  task_type: string;
  status: string;
  /** 'chat' for ordinary sessions, 'service' for the per-user Service API session. */
  kind: string;
  input_tokens: number;
  output_tokens: number;
  /** Last per-session event cursor handed out. */
  last_event_seq: number;
  /** Events at or below this cursor may have been compacted away (a resume from there gets `reset`). */
  compacted_through_seq: number;
  created_at: string;
  updated_at: string;
}

export interface MessagesTable {
  id: string;
  session_id: string;
  run_id: string | null;
  /** Orders messages within a session independent of clock resolution. */
  position: number;
  role: string;
  content: string;
  tool_calls: string | null;
  tool_call_id: string | null;
  /** JSON array of the images sent with a user message (`[{type:'image', file_id, media_type, name}]`); null = none. */
  attachments: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: string;
}

/** A run is one agent task on a session; Service API "tasks" are runs too. */
export interface RunsTable {
  id: string;
  session_id: string;
  user_id: string;
  kind: string;
  state: string;
  prompt: string;
  /** JSON: attachments and other input of the run. */
  input: string | null;
  /**
   * Left null since the answer is stored once, as the run's final assistant message
   * (MessagesRepository.finalAnswer); runs completed by earlier versions hold it here.
   */
  answer: string | null;
  error: string | null;
  error_code: string | null;
  iterations: number;
  input_tokens: number;
  output_tokens: number;
  /** JSON: the loop's resumable state (pending tool calls, iteration). */
  checkpoint: string | null;
  owner_id: string | null;
  lease_expires_at: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

export interface EventsTable {
  /** Global order across sessions (the Service API stream cursor). */
  id: Generated<number>;
  session_id: string;
  /** Per-session cursor, strictly increasing. */
  seq: number;
  run_id: string | null;
  type: string;
  data: string;
  created_at: string;
}

export interface ApprovalsTable {
  id: string;
  session_id: string;
  run_id: string;
  call_id: string;
  tool: string;
  args: string;
  args_hash: string;
  operation: string;
  description: string;
  risk_level: string;
  status: string;
  feedback: string | null;
  responded_by: string | null;
  created_at: string;
  expires_at: string;
  responded_at: string | null;
}

export interface ArtifactsTable {
  id: string;
  session_id: string;
  run_id: string | null;
  name: string;
  path: string;
  mime_type: string;
  size: number;
  created_at: string;
  updated_at: string;
}

export interface FilesTable {
  id: string;
  user_id: string;
  name: string;
  storage_path: string;
  mime_type: string;
  size: number;
  created_at: string;
}

export type UserRow = Selectable<UsersTable>;
export type SessionRow = Selectable<SessionsTable>;
export type NewSession = Insertable<SessionsTable>;
export type SessionUpdate = Updateable<SessionsTable>;
export type WorkspaceRow = Selectable<WorkspacesTable>;
export type MessageRow = Selectable<MessagesTable>;
export type RunRow = Selectable<RunsTable>;
export type EventRow = Selectable<EventsTable>;
export type ApprovalRow = Selectable<ApprovalsTable>;
export type ArtifactRow = Selectable<ArtifactsTable>;
export type FileRow = Selectable<FilesTable>;
