import type { ApprovalsService } from '../../approvals/service.js';
import type { EventBus } from '../../events/bus.js';
import type { EventLog } from '../../events/log.js';
import type { RunManager } from '../../agent/run-manager.js';
import type { SessionsService } from '../../sessions/service.js';
import type { SessionDirectories } from '../../sessions/workspace-dir.js';

/** What TokenDance's MCP server needs from the rest of the system (built by the HTTP layer). */
export interface McpServerDeps {
  version: string;
  runs: Pick<RunManager, 'startChat' | 'stopSession'>;
  sessions: SessionsService;
  approvals: ApprovalsService;
  log: EventLog;
  bus: EventBus;
  directories: SessionDirectories;
  defaultWorkspaceOf(userId: string): Promise<string | undefined>;
  /** Least time between two progress notifications of one tool call. */
  progressIntervalMs: number;
  /** A quiet task still reports progress this often. */
  heartbeatMs: number;
  warn(fields: Record<string, unknown>, message: string): void;
}

/** Who is calling, fixed for the life of one MCP session. */
export interface McpCaller {
  userId: string;
  /** True once the MCP session is closing: aborted tool calls then leave their runs alone. */
  isClosing(): boolean;
}
