import type { FastifyBaseLogger, FastifyInstance, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Redis } from 'ioredis';
import type { AuthService } from '../auth/service.js';
import type { Metrics } from '../observability/metrics.js';
import type { Config } from '../config/schema.js';
import type { SessionsService } from '../sessions/service.js';
import type { SessionDirectories } from '../sessions/workspace-dir.js';
import type { Store } from '../store/store.js';
import type { UploadsService } from '../uploads/service.js';
import type { WorkspacesService } from '../workspaces/service.js';
import type { SseSlots } from './sse-slots.js';
import type { StreamDeps } from './streams.js';
import type { RunManager } from '../agent/run-manager.js';
import type { ServiceTasks } from '../agent/service-tasks.js';
import type { ApprovalsService } from '../approvals/service.js';
import type { AttachmentResolver } from '../agent/attachments.js';
import type { ProviderHealthEntry } from '../agent/providers/health.js';
import type { ToolApi } from '../mcp/tool-api.js';

export interface HealthReport {
  status: 'healthy' | 'degraded';
  database: { status: 'ok' | 'down'; dialect: string; error?: string };
  model: { status: 'ok' | 'offline' | 'failing'; default: string; offline: boolean; message?: string; providers: ProviderHealthEntry[] };
}

/** Everything the routes need, built once by the composition root (src/server.ts). */
export interface HttpContext {
  config: Config;
  version: string;
  store: Store;
  auth: AuthService;
  workspaces: WorkspacesService;
  sessions: SessionsService;
  /** Where each session's workspace files live. */
  directories: SessionDirectories;
  uploads: UploadsService;
  sseSlots: SseSlots;
  runs: RunManager;
  serviceTasks: ServiceTasks;
  approvals: ApprovalsService;
  streams: StreamDeps;
  attachments: AttachmentResolver;
  /** True when `/api/*` accepts token-less requests as the local user. */
  localMode: boolean;
  localUserId: string;
  health(): Promise<HealthReport>;
  metrics: Metrics;
  /** Tool catalogue, direct tool calls and MCP server status (§9). */
  toolApi: ToolApi;
  /** Shared counters for rate limits in scale-out mode. */
  redis?: Redis;
}

export type App = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  ZodTypeProvider
>;
