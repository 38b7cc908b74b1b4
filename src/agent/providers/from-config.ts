import { isLoopbackHost } from '../../core/loopback.js';
import type { Config, ProviderConfig } from '../../config/schema.js';
import { ANTHROPIC_DEFAULT_BASE_URL, AnthropicProvider } from './anthropic.js';
import type { HttpProviderOptions } from './http-provider-options.js';
import { OFFLINE_MODEL, OFFLINE_PROVIDER_NAME, OfflineProvider } from './offline.js';
import { OpenAICompatibleProvider } from './openai-compatible.js';
import { ResilientModel, type ResilientOptions } from './resilient.js';
import type { ModelProvider } from './types.js';

export const SPARK_BASE_URL = 'https://spark-api-open.xf-yun.com/v1';
export const OPENAI_DEFAULT_BASE_URL = 'https://api.openai.com/v1';

export interface BuiltProviders {
  /** The chain [default, ...fallback] with retries; what the agent loop should call. */
  model: ResilientModel;
  /** Every usable provider by config name, without retry wrapping. */
  providers: Map<string, ModelProvider>;
  /** True when nothing was configured and the offline demo model answers. */
  offline: boolean;
  defaultName: string;
  /** A chain that starts at `name` (e.g. a profile's `model`) followed by the configured fallbacks. */
  modelFor(name: string): ResilientModel;
}

/**
 * Builds providers from `[providers]`, or, when none are configured, from well-known API-key
 * environment variables, or finally the offline demo model. Throws on config mistakes
 * (unknown names, missing keys) so they surface at startup, not on the first task.
 */
export function buildProviders(
  config: Pick<Config, 'model' | 'providers'>,
  env: NodeJS.ProcessEnv,
  log: (message: string, fields?: Record<string, unknown>) => void = () => {},
  resilience: ResilientOptions = {},
): BuiltProviders {
  const configured = Object.keys(config.providers).length > 0;
  const definitions = configured ? config.providers : providersFromEnv(env);
  const offline = Object.keys(definitions).length === 0;
  if (offline) {
    log(
      'NO MODEL PROVIDER CONFIGURED: using the offline demo model "offline" (answers are canned, not real AI). ' +
        'Set SPARK_API_KEY, OPENAI_API_KEY or ANTHROPIC_API_KEY, or [providers.*] in tokendance.toml.',
    );
  }

  const providers = new Map<string, ModelProvider>();
  const retryBudgetMs = new Map<string, number>();
  for (const [name, definition] of Object.entries(definitions)) {
    providers.set(name, createProvider(name, definition, env));
    retryBudgetMs.set(name, definition.max_retry_s * 1000);
  }
  // `offline` is always addressable, e.g. as a last-resort fallback during a demo.
  if (!providers.has(OFFLINE_PROVIDER_NAME)) providers.set(OFFLINE_PROVIDER_NAME, new OfflineProvider());

  const defaultName = config.model.default ?? Object.keys(definitions)[0] ?? OFFLINE_PROVIDER_NAME;
  requireKnown(providers, defaultName, 'model.default');
  for (const name of config.model.fallback) requireKnown(providers, name, 'model.fallback');

  const modelFor = (name: string): ResilientModel => {
    requireKnown(providers, name, 'model');
    const chain = [name, ...config.model.fallback.filter((fallback) => fallback !== name)];
    const entries = chain.map((entry) => ({
      provider: providers.get(entry) as ModelProvider,
      maxRetryMs: retryBudgetMs.get(entry) ?? 30_000,
    }));
    return new ResilientModel(entries, { log, ...resilience });
  };

  return { model: modelFor(defaultName), providers, offline, defaultName, modelFor };
}

/** Zero-config setup: one provider per well-known key; the first found becomes the default. */
export function providersFromEnv(env: NodeJS.ProcessEnv): Record<string, ProviderConfig> {
  const result: Record<string, ProviderConfig> = {};
  if (env.SPARK_API_KEY) {
    result.spark = providerDefaults({
      type: 'openai-compatible',
      base_url: env.SPARK_BASE_URL || SPARK_BASE_URL,
      api_key_env: 'SPARK_API_KEY',
      model: '4.0Ultra',
      context_window: 32_768,
    });
  }
  if (env.OPENAI_API_KEY) {
    result.openai = providerDefaults({
      type: 'openai-compatible',
      base_url: env.OPENAI_BASE_URL || OPENAI_DEFAULT_BASE_URL,
      api_key_env: 'OPENAI_API_KEY',
      model: env.OPENAI_MODEL || 'gpt-4o-mini',
      supports_vision: true,
    });
  }
  if (env.ANTHROPIC_API_KEY) {
    result.claude = providerDefaults({
      type: 'anthropic',
      base_url: env.ANTHROPIC_BASE_URL || ANTHROPIC_DEFAULT_BASE_URL,
      api_key_env: 'ANTHROPIC_API_KEY',
      model: env.ANTHROPIC_MODEL || 'claude-sonnet-4-5',
      context_window: 200_000,
      supports_vision: true,
    });
  }
  return result;
}

export function createProvider(name: string, definition: ProviderConfig, env: NodeJS.ProcessEnv): ModelProvider {
  if (definition.type === 'offline') {
    return new OfflineProvider({ name, model: definition.model || OFFLINE_MODEL, contextWindow: definition.context_window });
  }
  const baseUrl =
    definition.base_url ?? (definition.type === 'anthropic' ? ANTHROPIC_DEFAULT_BASE_URL : OPENAI_DEFAULT_BASE_URL);
  const apiKey = definition.api_key ?? (definition.api_key_env ? env[definition.api_key_env] : undefined);
  // Local servers (Ollama, vLLM, test fakes) take no key; a remote one without a key can only fail, so fail now.
  if (!apiKey && !isLoopback(baseUrl)) {
    const hint = definition.api_key_env ? `set the ${definition.api_key_env} environment variable` : 'set api_key or api_key_env';
    throw new Error(`providers.${name}: no API key for ${baseUrl} (${hint})`);
  }
  const options: HttpProviderOptions = {
    name,
    model: definition.model,
    baseUrl,
    requestTimeoutMs: definition.request_timeout_s * 1000,
    contextWindow: definition.context_window,
    supportsVision: definition.supports_vision,
    ...(apiKey ? { apiKey } : {}),
  };
  return definition.type === 'anthropic' ? new AnthropicProvider(options) : new OpenAICompatibleProvider(options);
}

export function isLoopback(url: string): boolean {
  let hostname: string;
  try {
    hostname = new URL(url).hostname;
  } catch {
    return false;
  }
  return isLoopbackHost(hostname);
}

function requireKnown(providers: Map<string, ModelProvider>, name: string, key: string): void {
  if (providers.has(name)) return;
  const known = [...providers.keys()].join(', ');
  throw new Error(`${key}: unknown provider "${name}" (known providers: ${known})`);
}

/** Env-derived providers skip the zod parse, so apply the schema's defaults here. */
function providerDefaults(partial: Pick<ProviderConfig, 'type' | 'model'> & Partial<ProviderConfig>): ProviderConfig {
  return {
    max_retry_s: 30,
    request_timeout_s: 120,
    context_window: 128_000,
    supports_vision: false,
    ...partial,
  };
}
