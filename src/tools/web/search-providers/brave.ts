import { z } from 'zod';
import { endpoint, plainText, requestJson } from './request-json.js';
import type { SearchProviderDefinition } from './types.js';

const braveResponse = z.object({
  web: z
    .object({
      results: z.array(z.object({ title: z.string().nullish(), url: z.string(), description: z.string().nullish() })).default([]),
    })
    .nullish(),
});

/** Brave Search API: `GET /res/v1/web/search?q=&count=` with the X-Subscription-Token header. */
export const brave: SearchProviderDefinition = {
  defaultUrl: 'https://api.search.brave.com',
  defaultKeyEnv: 'BRAVE_API_KEY',
  create: ({ baseUrl, apiKey }) => ({
    async search({ query, maxResults, signal }) {
      const body = await requestJson(
        'brave',
        endpoint(baseUrl, 'res/v1/web/search', { q: query, count: String(maxResults) }),
        { method: 'GET', headers: { accept: 'application/json', 'x-subscription-token': apiKey ?? '' }, signal },
        braveResponse,
      );
      return {
        hits: (body.web?.results ?? [])
          .slice(0, maxResults)
          .map((hit) => ({ title: plainText(hit.title), url: hit.url, snippet: plainText(hit.description) })),
      };
    },
  }),
};
