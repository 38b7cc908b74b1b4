import type { ApprovalRow } from '../store/schema.js';

/** The `confirm_required` payload (§5.1): the seed's fields, plus the call it is bound to. */
export const presentApprovalEvent = (row: ApprovalRow) => ({
  action_id: row.id,
  tool: row.tool,
  args: JSON.parse(row.args) as unknown,
  operation: row.operation,
  description: row.description,
  risk_level: row.risk_level,
  expires_at: row.expires_at,
  call_id: row.call_id,
});

/** A pending request as the HITL API lists it (§6). */
export const presentApprovalRequest = (row: ApprovalRow) => ({
  request_id: row.id,
  session_id: row.session_id,
  run_id: row.run_id,
  operation: row.operation,
  description: row.description,
  context: { tool: row.tool, args: JSON.parse(row.args) as unknown, call_id: row.call_id, ...fileContext(row) },
  risk_level: row.risk_level as 'low' | 'medium' | 'high',
  created_at: row.created_at,
  expires_at: row.expires_at,
});

/** One request with its outcome (`GET /hitl/{id}`). */
export const presentApprovalDetails = (row: ApprovalRow) => ({
  ...presentApprovalRequest(row),
  status: row.status as 'pending' | 'approved' | 'rejected' | 'expired',
  user_feedback: row.feedback,
  responded_at: row.responded_at,
});

/** The seed's HITL example names the file in `context.file_path`. */
function fileContext(row: ApprovalRow): { file_path?: string } {
  const args = JSON.parse(row.args) as { path?: unknown };
  return row.tool.startsWith('file_') && typeof args.path === 'string' ? { file_path: args.path } : {};
}
