import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import type { z } from 'zod';
import { configSchema, flatSections, type Config } from './schema.js';
import { findUnknownKeys, type UnknownKey, unwrap } from './schema-keys.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface LoadConfigOptions {
  /** Explicit --config path; missing file is an error. */
  path?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Command-line overrides (--host, --port), applied last. */
  overrides?: { host?: string; port?: number; insecure?: boolean };
}

export interface LoadedConfig {
  config: Config;
  /** The file the config came from, or null when only defaults/env were used. */
  source: string | null;
}

export function loadConfig(options: LoadConfigOptions = {}): LoadedConfig {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  const source = findConfigFile(cwd, options.path);
  const raw: Record<string, unknown> = source ? readToml(source) : {};

  const server = (raw.server ??= {}) as Record<string, unknown>;
  // Plain HOST/PORT (as set by process managers and PaaS) beat the file; TOKENDANCE_SERVER_* and flags beat them.
  if (env.HOST) server.host = env.HOST;
  if (env.PORT) server.port = coerce(env.PORT, unwrap((unwrap(configSchema.shape.server) as z.ZodObject).shape.port), 'server.port', 'PORT');
  applyEnvOverrides(raw, env);
  if (options.overrides?.host !== undefined) server.host = options.overrides.host;
  if (options.overrides?.port !== undefined) server.port = options.overrides.port;
  if (options.overrides?.insecure) server.insecure = true;

  // A typo must not silently fall back to a default (`prot = 9000` would serve on 8000).
  const unknown = findUnknownKeys(raw, configSchema);
  if (unknown.length > 0) throw new ConfigError(describeUnknownKeys(unknown, source));

  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration${source ? ` in ${source}` : ''}: ${problems.join('; ')}`);
  }
  return { config: parsed.data, source };
}

function findConfigFile(cwd: string, explicit?: string): string | null {
  if (explicit) {
    const path = resolve(cwd, explicit);
    if (!existsSync(path)) throw new ConfigError(`Config file not found: ${path}`);
    return path;
  }
  for (const name of ['tokendance.toml', 'ineffable.toml']) {
    const path = resolve(cwd, name);
    if (existsSync(path)) return path;
  }
  return null;
}

function readToml(path: string): Record<string, unknown> {
  try {
    return parseToml(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new ConfigError(`Cannot parse ${path}: ${(error as Error).message}`);
  }
}

/** TOKENDANCE_AUTH_JWT_SECRET -> auth.jwt_secret, typed by the schema so "3600" becomes a number. */
function applyEnvOverrides(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('TOKENDANCE_') || value === undefined) continue;
    const [sectionWord, ...rest] = name.slice('TOKENDANCE_'.length).split('_');
    const section = sectionWord?.toLowerCase() as (typeof flatSections)[number];
    if (!flatSections.includes(section) || rest.length === 0) continue;
    const key = rest.join('_').toLowerCase();
    const sectionSchema = unwrap(configSchema.shape[section]) as z.ZodObject;
    const fieldSchema = sectionSchema.shape?.[key];
    if (!fieldSchema) throw new ConfigError(`Unknown config key from env ${name}: ${section}.${key}`);
    const target = (raw[section] ??= {}) as Record<string, unknown>;
    target[key] = coerce(value, unwrap(fieldSchema), `${section}.${key}`, name);
  }
}

/** One line: `Unknown config key "server.prot" in ./tokendance.toml: did you mean "server.port"?` */
function describeUnknownKeys(unknown: UnknownKey[], source: string | null): string {
  const where = source ? ` in ${source}` : '';
  const hint = (key: UnknownKey) =>
    key.suggestion ? `did you mean "${key.suggestion}"?` : `valid keys here: ${key.valid.join(', ')}`;
  if (unknown.length === 1) return `Unknown config key "${unknown[0]!.path}"${where}: ${hint(unknown[0]!)}`;
  return `Unknown config keys${where}: ${unknown.map((key) => `"${key.path}" (${hint(key)})`).join('; ')}`;
}

function coerce(value: string, schema: z.ZodType, key: string, envName: string): unknown {
  const type = (schema as unknown as { _zod: { def: { type: string } } })._zod.def.type;
  if (type === 'number') {
    const number = Number(value);
    if (value.trim() === '' || Number.isNaN(number)) {
      throw new ConfigError(`Invalid configuration: ${key} (from ${envName}) must be a number, got "${value}"`);
    }
    return number;
  }
  if (type === 'boolean') {
    if (['true', '1', 'yes'].includes(value.toLowerCase())) return true;
    if (['false', '0', 'no'].includes(value.toLowerCase())) return false;
    throw new ConfigError(`Invalid configuration: ${key} (from ${envName}) must be a boolean, got "${value}"`);
  }
  if (type === 'array') return value.split(',').map((item) => item.trim()).filter(Boolean);
  return value;
}
