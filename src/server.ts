import { isLoopbackHost } from './core/loopback.js';
import { type BuiltProviders, buildProviders } from './agent/providers/from-config.js';
import { ProviderHealth } from './agent/providers/health.js';
import { resolveProfiles } from './agent/profiles.js';
import { resolveJwtSecret } from './auth/secret.js';
import { AuthService } from './auth/service.js';
import type { Config } from './config/schema.js';
import { buildApp } from './http/app.js';
import type { App, HealthReport, HttpContext } from './http/context.js';
import { MemorySseSlotCounter, SseSlots } from './http/sse-slots.js';
import { SessionsService } from './sessions/service.js';
import { SessionDirectories } from './sessions/workspace-dir.js';
import { Store } from './store/store.js';
import { UploadsService } from './uploads/service.js';
import { VERSION } from './version.js';
import { createLogger } from './observability/logger.js';
import { Metrics } from './observability/metrics.js';
import { AttachmentResolver } from './agent/attachments.js';
import { RunManager } from './agent/run-manager.js';
import { ServiceTasks } from './agent/service-tasks.js';
import { LocalEventBus } from './events/bus.js';
import { EventLog } from './events/log.js';
import { COMPACTABLE_TYPES } from './events/types.js';
import { SseRegistry, type StreamDeps } from './http/streams.js';
import { createBuiltinTools } from './tools/builtin.js';
import { setupWebSearch } from './tools/web-search.js';
import { ToolRegistry } from './tools/registry.js';
import { selectShellSandbox } from './tools/sandbox/select.js';
import { WorkspacesService } from './workspaces/service.js';
import { ApprovalsService } from './approvals/service.js';
import { McpClientManager } from './mcp/client-manager.js';
import { ToolApi } from './mcp/tool-api.js';

export interface StartOptions {
  config: Config;
  /** false silences logs. */
  logger?: boolean;
  env?: NodeJS.ProcessEnv;
  /** bubblewrap binary for the `shell` sandbox (default /usr/bin/bwrap); tests point it at a missing path. */
  bwrapPath?: string;
}

export interface RunningServer {
  app: App;
  context: HttpContext;
  url: string;
  port: number;
  /** The configured model providers (the CLI's start-up summary names the default one). */
  models: BuiltProviders;
  /** Connections to the `[[mcp.servers]]`; they connect in the background after start-up. */
  mcpClients: McpClientManager;
  close(): Promise<void>;
}

export class StartupError extends Error {
  override name = 'StartupError';
}


/** The composition root: opens storage, builds every service, serves HTTP. */
export async function startServer(options: StartOptions): Promise<RunningServer> {
  const { config } = options;
  const env = options.env ?? process.env;
  const loopback = isLoopbackHost(config.server.host);
  if (config.auth.local_mode && !loopback && !config.server.insecure) {
    throw new StartupError(
      `Refusing to start: auth.local_mode is on and server.host "${config.server.host}" is not a loopback address. ` +
        'Set auth.local_mode = false (every request then needs a token), or pass --insecure to accept token-less access to /api/*.',
    );
  }

  const logger = createLogger(config.log.level, options.logger ?? true, config.log.format);
  const store = await Store.open(config.database.url);
  // Several processes share the database only in scale-out (PostgreSQL + Redis, SPEC §11); otherwise this one numbers events and is the only one to revoke tokens.
  const scaleOut = store.handle.dialect === 'postgres' && Boolean(config.redis.url);
  const auth = new AuthService(store, config.auth, resolveJwtSecret(config.auth.jwt_secret, config.data.dir), { onlyRevoker: !scaleOut });
  const localUser = await auth.ensureLocalUser();
  const workspaces = new WorkspacesService(store);
  const directories = new SessionDirectories(config.data.dir);
  const profiles = resolveProfiles(config);
  const sessions = new SessionsService(store, workspaces, directories, () => profiles.keys());
  const providerHealth = new ProviderHealth();
  const models = buildProviders(config, env, (message, fields) => logger.warn(fields ?? {}, message), { health: providerHealth });
  const bus = new LocalEventBus((error) => logger.error({ err: error }, 'event listener failed'));
  const log = new EventLog(await store.openEventStore({ shared: scaleOut }), bus);
  sessions.onCreated = (sessionId) => log.sessionCreated(sessionId);
  const streams: StreamDeps = { log, bus, registry: new SseRegistry() };
  const shellChoice = await selectShellSandbox(config.tools.shell, { hiddenPaths: [config.data.dir], bwrapPath: options.bwrapPath });
  logger[shellChoice.log.level](shellChoice.log.message);
  const shell = shellChoice.sandbox && { config: config.tools.shell, sandbox: shellChoice.sandbox };
  const webSearch = setupWebSearch(config.tools.web_search, env);
  if (webSearch.warning) logger.warn(webSearch.warning);
  const web = { fetch: config.tools.web_fetch, search: webSearch.tool };
  const tools = new ToolRegistry({ tools: createBuiltinTools(config.agent, { shell, web }), policy: config.tools.policy });
  const uploads = new UploadsService(store, config.data.dir);
  // Their tools join the registry as each server connects; nothing here waits for them.
  const mcpClients = new McpClientManager(config.mcp.servers, { registry: tools, env, logger, clientVersion: VERSION });

  // Scraped only after start-up, when `runs` (declared below) exists.
  const metrics: Metrics = new Metrics({
    activeRuns: (): number => runs.activeCount,
    sseConnections: () => streams.registry.size,
    pendingApprovals: () => store.approvals.countAllPending(),
  });
  const approvals = new ApprovalsService(store, sessions, log);
  const runs = new RunManager({
    approvals,
    store,
    log,
    models,
    tools,
    profiles,
    directories,
    config: config.agent,
    toolPolicy: config.tools.policy,
    logger,
    observer: metrics,
    images: uploads,
  });

  const health = async (): Promise<HealthReport> => {
    let database: HealthReport['database'] = { status: 'ok', dialect: store.handle.dialect };
    try {
      await store.ping();
    } catch (error) {
      database = { status: 'down', dialect: store.handle.dialect, error: (error as Error).message };
    }
    const providers = providerHealth.report();
    const model: HealthReport['model'] = models.offline
      ? { status: 'offline', default: 'offline', offline: true, message: 'No model provider configured: using the offline demo model', providers }
      : providerHealth.isFailing(models.defaultName)
        ? { status: 'failing', default: models.defaultName, offline: false, message: `Model provider ${models.defaultName} is failing`, providers }
        : { status: 'ok', default: models.defaultName, offline: false, providers };
    const healthy = database.status === 'ok' && model.status !== 'failing';
    return { status: healthy ? 'healthy' : 'degraded', database, model };
  };

  const context: HttpContext = {
    directories,
    approvals,
    config,
    version: VERSION,
    store,
    auth,
    workspaces,
    sessions,
    uploads,
    sseSlots: new SseSlots(new MemorySseSlotCounter(), config.limits.sse_concurrent),
    runs,
    serviceTasks: new ServiceTasks({ store, sessions, runs }),
    streams,
    attachments: new AttachmentResolver(uploads),
    localMode: config.auth.local_mode && (loopback || config.server.insecure),
    localUserId: localUser.id,
    health,
    metrics,
    toolApi: new ToolApi({ registry: tools, clients: mcpClients, sessions, store, directories, agent: config.agent }),
  };

  const app = await buildApp(context, logger);
  sessions.runControl = runs;
  approvals.waker = runs;
  if (context.localMode && !loopback) app.log.warn(`INSECURE: local mode is on while listening on ${config.server.host}; /api/* accepts requests without a token.`);

  const housekeeping = setInterval(() => void auth.pruneExpired().catch((error) => app.log.warn({ err: error }, 'token pruning failed')), 3_600_000);
  housekeeping.unref();
  // Token deltas of finished runs are dropped after events.compact_after_s; checked at half that period (at most every 10 min).
  const compactAfterS = config.events.compact_after_s;
  const compaction = setInterval(
    () =>
      void store.events
        .compact(COMPACTABLE_TYPES, new Date(Date.now() - compactAfterS * 1000).toISOString())
        .catch((error) => app.log.warn({ err: error }, 'event compaction failed')),
    Math.min(compactAfterS * 500, 600_000),
  );
  compaction.unref();
  // Unanswered approvals expire (as a rejection) on time; the first sweep also catches those that expired while the server was down.
  const approvalExpiry = setInterval(() => void approvals.expireDue().catch((error) => app.log.warn({ err: error }, 'approval expiry failed')), 1000);
  approvalExpiry.unref();

  await runs.recover();
  await approvals.expireDue();
  await app.listen({ host: config.server.host, port: config.server.port });
  // Only once listening, so a failed start leaves no MCP child process behind.
  await mcpClients.start();
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.server.port;
  const hostForUrl = config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host;

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      clearInterval(housekeeping);
      clearInterval(compaction);
      clearInterval(approvalExpiry);
      // Runs stop without ending (the next start resumes them); streams end with a last comment.
      await runs.shutdown();
      await mcpClients.close();
      streams.registry.closeAll('server shutting down');
      const force = setTimeout(() => app.server.closeAllConnections(), config.server.shutdown_grace_s * 1000);
      force.unref();
      await app.close();
      clearTimeout(force);
      await log.close();
      await store.close();
    })());

  return { app, context, url: `http://${hostForUrl}:${port}`, port, models, mcpClients, close };
}
