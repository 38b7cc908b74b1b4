import { z } from 'zod';

const toolPolicy = z.enum(['allow', 'ask', 'deny']);

const providerSchema = z.object({
  type: z.enum(['openai-compatible', 'anthropic', 'offline']),
  base_url: z.string().url().optional(),
  api_key_env: z.string().optional(),
  api_key: z.string().optional(),
  model: z.string().min(1),
  max_retry_s: z.number().positive().default(30),
  request_timeout_s: z.number().positive().default(120),
  context_window: z.number().int().positive().default(128000),
  supports_vision: z.boolean().default(false),
});

/**
 * One `[[mcp.servers]]` entry: a stdio command or a Streamable HTTP url. Values of `env` and
 * `headers` may reference the server's environment as `${env:NAME}`; nothing else of that
 * environment reaches an MCP server.
 */
const mcpServerSchema = z
  .object({
    /** Tools appear as `mcp.<name>.<tool>`, so the name is one clean segment. */
    name: z
      .string()
      .max(32)
      .regex(/^[A-Za-z0-9-]+(?:_[A-Za-z0-9-]+)*$/, 'use letters, digits, "-" and single inner "_" (at most 32 characters)'),
    command: z.string().min(1).optional(),
    args: z.array(z.string()).default([]),
    env: z.record(z.string(), z.string()).default({}),
    cwd: z.string().min(1).optional(),
    url: z
      .string()
      .url()
      .refine((url) => /^https?:\/\//i.test(url), 'must be an http(s) URL')
      .optional(),
    headers: z.record(z.string(), z.string()).default({}),
    enabled: z.boolean().default(true),
    /** A tool call is cancelled after this long (the agent's tool_timeout_s still applies when shorter). */
    timeout_s: z.number().positive().default(120),
    /** Connecting and listing tools must finish within this time, else the attempt counts as failed and is retried. */
    connect_timeout_s: z.number().positive().default(30),
  })
  .refine((server) => Boolean(server.command) !== Boolean(server.url), {
    message: 'exactly one of command or url is required',
  })
  .refine((server) => !server.url || (server.args.length === 0 && Object.keys(server.env).length === 0 && !server.cwd), {
    message: 'args, env and cwd apply to a command (stdio) server, not to a url',
  })
  .refine((server) => !server.command || Object.keys(server.headers).length === 0, {
    message: 'headers apply to a url (Streamable HTTP) server, not to a command',
  });

const profileSchema = z.object({
  system_prompt: z.string().optional(),
  tools: z.array(z.string()).optional(),
  model: z.string().optional(),
  max_iterations: z.number().int().positive().optional(),
});

export const configSchema = z.object({
  server: z
    .object({
      host: z.string().default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(8000),
      insecure: z.boolean().default(false),
      shutdown_grace_s: z.number().positive().default(10),
      trust_proxy: z.boolean().default(false),
      /** Origins allowed to call the API from a browser on another origin; empty = same origin only. */
      cors_origins: z.array(z.string()).default([]),
      /** A client must send its whole request head within this time. */
      headers_timeout_s: z.number().positive().default(15),
      /** A client must send its whole request (head and body) within this time; SSE responses are exempt. */
      request_timeout_s: z.number().positive().default(60),
      /** An idle keep-alive connection is closed after this time. */
      keep_alive_timeout_s: z.number().positive().default(5),
    })
    .prefault({}),
  database: z
    .object({
      url: z.string().default('sqlite://./data/tokendance.db'),
    })
    .prefault({}),
  redis: z.object({ url: z.string().optional() }).prefault({}),
  data: z.object({ dir: z.string().default('./data') }).prefault({}),
  auth: z
    .object({
      jwt_secret: z.string().min(32).optional(),
      access_token_ttl_s: z.number().int().positive().default(3600),
      refresh_token_ttl_s: z.number().int().positive().default(2592000),
      stream_ticket_ttl_s: z.number().int().positive().default(60),
      local_mode: z.boolean().default(true),
      login_max_failures_per_email: z.number().int().positive().default(10),
      login_max_failures_per_ip: z.number().int().positive().default(30),
      login_window_s: z.number().int().positive().default(900),
    })
    .prefault({}),
  model: z
    .object({
      default: z.string().optional(),
      fallback: z.array(z.string()).default([]),
    })
    .prefault({}),
  providers: z.record(z.string(), providerSchema).default({}),
  agent: z
    .object({
      max_iterations: z.number().int().positive().default(25),
      run_timeout_s: z.number().positive().default(1800),
      approval_timeout_s: z.number().positive().default(600),
      tool_timeout_s: z.number().positive().default(120),
      tool_result_max_chars: z.number().int().positive().default(20000),
      file_read_max_bytes: z.number().int().positive().default(1048576),
    })
    .prefault({}),
  tools: z
    .object({
      policy: z.record(z.string(), toolPolicy).default({}),
      shell: z
        .object({
          /** "bubblewrap" (default) offers `shell` only where bwrap works; "none" runs commands unsandboxed. */
          sandbox: z.enum(['bubblewrap', 'none']).default('bubblewrap'),
          network: z.boolean().default(false),
          timeout_s: z.number().positive().default(60),
          output_max_chars: z.number().int().positive().default(20000),
        })
        .prefault({}),
      web_fetch: z
        .object({
          /** Hosts (names or IPs) exempt from the SSRF block, e.g. an intranet wiki. */
          allow_hosts: z.array(z.string()).default([]),
          max_bytes: z.number().int().positive().default(2097152),
          timeout_s: z.number().positive().default(20),
          max_redirects: z.number().int().min(0).default(5),
        })
        .prefault({}),
      web_search: z
        .object({
          provider: z.enum(['tavily', 'brave', 'searxng']).optional(),
          url: z.string().url().optional(),
          api_key_env: z.string().optional(),
          max_results: z.number().int().positive().max(20).default(5),
        })
        .prefault({}),
    })
    .prefault({}),
  limits: z
    .object({
      requests_per_minute: z.number().int().positive().default(100),
      sse_concurrent: z.number().int().positive().default(10),
      uploads_per_minute: z.number().int().positive().default(10),
      upload_max_bytes: z.number().int().positive().default(20971520),
      body_max_bytes: z.number().int().positive().default(1048576),
      sse_buffer_max_bytes: z.number().int().positive().default(4194304),
      /** A replaying client that reads nothing for this long is disconnected (it resumes by cursor). */
      sse_stall_timeout_s: z.number().positive().default(30),
    })
    .prefault({}),
  events: z
    .object({
      compact_after_s: z.number().int().positive().default(86400),
      heartbeat_s: z.number().positive().default(15),
    })
    .prefault({}),
  log: z
    .object({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      /** "auto": pretty on a TTY, JSON otherwise. */
      format: z.enum(['auto', 'json', 'pretty']).default('auto'),
    })
    .prefault({}),
  profiles: z.record(z.string(), profileSchema).default({}),
  mcp: z
    .object({
      servers: z
        .array(mcpServerSchema)
        .default([])
        .refine((servers) => new Set(servers.map((server) => server.name)).size === servers.length, 'server names must be unique'),
    })
    .prefault({}),
});

export type Config = z.infer<typeof configSchema>;
export type ProviderConfig = z.infer<typeof providerSchema>;
export type McpServerConfig = z.infer<typeof mcpServerSchema>;
export type ToolPolicy = z.infer<typeof toolPolicy>;

/** Sections whose scalar keys may be overridden by TOKENDANCE_<SECTION>_<KEY>. */
export const flatSections = [
  'server',
  'database',
  'redis',
  'data',
  'auth',
  'model',
  'agent',
  'limits',
  'events',
  'log',
] as const;
