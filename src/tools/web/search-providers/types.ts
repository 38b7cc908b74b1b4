/** One hit, reduced to what every backend returns. */
export interface SearchHit {
  title: string;
  url: string;
  snippet: string;
}

export interface SearchOutcome {
  hits: SearchHit[];
  /** A short synthesised answer, from backends that offer one (Tavily). */
  answer?: string;
}

export interface SearchQuery {
  query: string;
  maxResults: number;
  signal: AbortSignal;
}

export interface SearchBackend {
  search(query: SearchQuery): Promise<SearchOutcome>;
}

export interface SearchBackendSettings {
  /** Base URL of the API, e.g. https://api.tavily.com or a SearXNG instance. */
  baseUrl: string;
  apiKey?: string;
}

/** What web-search.ts needs to know about a provider to configure it from `[tools.web_search]`. */
export interface SearchProviderDefinition {
  /** Public endpoint used when `url` is not configured; SearXNG has none (it is self-hosted). */
  defaultUrl?: string;
  /** Env var read when `api_key_env` is not configured; undefined when the API needs no key. */
  defaultKeyEnv?: string;
  create(settings: SearchBackendSettings): SearchBackend;
}
