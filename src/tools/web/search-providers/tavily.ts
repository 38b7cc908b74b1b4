import { z } from 'zod';
import { endpoint, plainText, requestJson } from './request-json.js';
import type { SearchProviderDefinition } from './types.js';

const tavilyResponse = z.object({
  answer: z.string().nullish(),
  results: z
    .array(z.object({ title: z.string().nullish(), url: z.string(), content: z.string().nullish(), score: z.number().nullish() }))
    .default([]),
});

/** Tavily Search: `POST /search` with a Bearer key (https://docs.tavily.com/api-reference). */
export const tavily: SearchProviderDefinition = {
  defaultUrl: 'https://api.tavily.com',
  defaultKeyEnv: 'TAVILY_API_KEY',
  create: ({ baseUrl, apiKey }) => ({
    async search({ query, maxResults, signal }) {
      const body = await requestJson(
        'tavily',
        endpoint(baseUrl, 'search'),
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${apiKey ?? ''}` },
          body: JSON.stringify({ query, max_results: maxResults, search_depth: 'basic', topic: 'general', include_answer: true }),
          signal,
        },
        tavilyResponse,
      );
      const answer = plainText(body.answer);
      return {
        hits: body.results.slice(0, maxResults).map((hit) => ({ title: plainText(hit.title), url: hit.url, snippet: plainText(hit.content) })),
        ...(answer ? { answer } : {}),
      };
    },
  }),
};
