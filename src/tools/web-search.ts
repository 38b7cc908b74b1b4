import { z } from 'zod';
import type { Config } from '../config/schema.js';
import type { Tool } from './types.js';
import { brave } from './web/search-providers/brave.js';
import { searxng } from './web/search-providers/searxng.js';
import { tavily } from './web/search-providers/tavily.js';
import type { SearchBackend, SearchOutcome, SearchProviderDefinition } from './web/search-providers/types.js';

type WebSearchConfig = Config['tools']['web_search'];
type ProviderName = NonNullable<WebSearchConfig['provider']>;

/** What to tell a user who asks for a web search on a server without a backend (used by the offline demo model). */
export const WEB_SEARCH_UNAVAILABLE_DESCRIPTION =
  'Web search is not available on this server: no search backend is configured. An operator can enable the ' +
  'web_search tool in tokendance.toml with [tools.web_search] provider = "tavily", "brave" or "searxng", plus ' +
  'api_key_env naming the environment variable that holds the API key (Tavily, Brave) or url pointing at a ' +
  'SearXNG instance. web_fetch can still read a page whose URL is known.';

const PROVIDERS: Record<ProviderName, SearchProviderDefinition> = { tavily, brave, searxng };

/** A search backend is an outside call that may hang; the registry's tool timeout is a second bound. */
const SEARCH_TIMEOUT_MS = 30_000;
/** Per-hit snippet cap, so a few long snippets cannot crowd the others out of the result. */
const SNIPPET_MAX_CHARS = 600;

export interface WebSearchSetup {
  /** Undefined when web search is not offered. */
  tool?: Tool<WebSearchArgs>;
  /** Why a configured provider could not be enabled; the server logs it at start-up. */
  warning?: string;
}

/**
 * Builds web_search from `[tools.web_search]`. No provider: not offered, silently. A provider that
 * cannot work (missing key or SearXNG url): not offered either, with a warning for the log, so the
 * model never sees a tool that can only fail.
 */
export function setupWebSearch(config: WebSearchConfig, env: NodeJS.ProcessEnv): WebSearchSetup {
  if (!config.provider) return {};
  const definition = PROVIDERS[config.provider];
  const baseUrl = config.url ?? definition.defaultUrl;
  if (!baseUrl) {
    return { warning: `web_search is disabled: provider "${config.provider}" needs [tools.web_search] url (the base URL of the instance).` };
  }
  const keyEnv = config.api_key_env ?? definition.defaultKeyEnv;
  const apiKey = keyEnv ? env[keyEnv]?.trim() : undefined;
  if (definition.defaultKeyEnv && !apiKey) {
    return {
      warning: `web_search is disabled: provider "${config.provider}" needs an API key in the environment variable ${keyEnv}, which is not set (see [tools.web_search] api_key_env).`,
    };
  }
  const backend = definition.create({ baseUrl, ...(apiKey ? { apiKey } : {}) });
  return { tool: createWebSearchTool(config.provider, backend, config.max_results) };
}

function webSearchSchema(maxResults: number) {
  return z.object({
    query: z.string().trim().min(1).max(500).describe('What to search for, as you would type it into a search engine.'),
    max_results: z
      .number()
      .int()
      .min(1)
      .max(maxResults)
      .optional()
      .describe(`How many results to return (default and maximum ${maxResults}).`),
  });
}

export type WebSearchArgs = z.infer<ReturnType<typeof webSearchSchema>>;

export function createWebSearchTool(provider: string, backend: SearchBackend, maxResults: number): Tool<WebSearchArgs> {
  return {
    name: 'web_search',
    description:
      'Search the web. Returns a numbered list of results, each with title, URL and snippet. ' +
      'Use web_fetch on a result URL to read the page itself.',
    inputSchema: webSearchSchema(maxResults),
    defaultPolicy: 'allow',
    usesWorkspace: false,
    risk: () => 'low',
    describe: (args) => ({ operation: 'web_search', description: `Search the web for "${args.query}"` }),
    execute: async (args, ctx) => {
      const outcome = await backend.search({
        query: args.query,
        maxResults: args.max_results ?? maxResults,
        signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(SEARCH_TIMEOUT_MS)]),
      });
      return { success: true, output: renderResults(args.query, provider, outcome) };
    },
  };
}

function renderResults(query: string, provider: string, outcome: SearchOutcome): string {
  const lines = [`Web search results for "${query}" (${provider}):`];
  if (outcome.answer) lines.push('', `Answer: ${outcome.answer}`);
  if (outcome.hits.length === 0) lines.push('', 'No results.');
  outcome.hits.forEach((hit, index) => {
    const snippet = hit.snippet.length > SNIPPET_MAX_CHARS ? `${hit.snippet.slice(0, SNIPPET_MAX_CHARS)}…` : hit.snippet;
    lines.push('', `${index + 1}. ${hit.title || '(untitled)'}`, `   URL: ${hit.url}`);
    if (snippet) lines.push(`   ${snippet}`);
  });
  return lines.join('\n');
}
