import { z } from 'zod';
import { endpoint, plainText, requestJson } from './request-json.js';
import type { SearchProviderDefinition } from './types.js';

const searxngResponse = z.object({
  results: z.array(z.object({ title: z.string().nullish(), url: z.string(), content: z.string().nullish() })).default([]),
});

/**
 * A self-hosted SearXNG instance: `GET /search?q=&format=json`. It has no API key and no result
 * count parameter, so the list is cut here. JSON output must be enabled in its settings.yml.
 */
export const searxng: SearchProviderDefinition = {
  create: ({ baseUrl }) => ({
    async search({ query, maxResults, signal }) {
      const body = await requestJson(
        'searxng',
        endpoint(baseUrl, 'search', { q: query, format: 'json' }),
        { method: 'GET', headers: { accept: 'application/json' }, signal },
        searxngResponse,
        ' (SearXNG answers 403 when "json" is missing from search.formats in its settings.yml)',
      );
      return {
        hits: body.results
          .slice(0, maxResults)
          .map((hit) => ({ title: plainText(hit.title), url: hit.url, snippet: plainText(hit.content) })),
      };
    },
  }),
};
