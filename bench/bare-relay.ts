/**
 * The floor: the least a relay must do. Per request it POSTs to the model's
 * /v1/chat/completions with stream:true, parses the SSE with eventsource-parser and writes each
 * text delta to the client as `id: N\nevent: content\ndata: {"text":...}\n\n`, then
 * `event: done`. No auth, no persistence, no fan-out: the same fetch + parser the real server
 * uses, so the difference measured against it is everything TokenDance adds.
 *
 *   node --import tsx bench/bare-relay.ts <model base_url>
 * prints "bare-relay listening on http://127.0.0.1:PORT" on stdout.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createParser } from 'eventsource-parser';

const baseUrl = process.argv[2];
if (!baseUrl) {
  console.error('usage: bare-relay.ts <model base_url>');
  process.exit(2);
}
const completionsUrl = `${baseUrl.replace(/\/$/, '')}/chat/completions`;

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function relay(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const raw = await readBody(req);
  const content = raw ? String((JSON.parse(raw) as { content?: unknown }).content ?? '') : '';
  const abort = new AbortController();
  res.on('close', () => abort.abort());
  const upstream = await fetch(completionsUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify({ model: 'fake-model', stream: true, messages: [{ role: 'user', content }] }),
    signal: abort.signal,
  });
  if (!upstream.ok || !upstream.body) {
    res.writeHead(502, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: `upstream ${upstream.status}` }));
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
  res.flushHeaders();
  res.socket?.setNoDelay(true);
  let seq = 0;
  const parser = createParser({
    onEvent: (message) => {
      if (message.data === '[DONE]') return;
      const chunk = JSON.parse(message.data) as { choices?: Array<{ delta?: { content?: string } }> };
      const text = chunk.choices?.[0]?.delta?.content;
      if (text) res.write(`id: ${++seq}\nevent: content\ndata: ${JSON.stringify({ text })}\n\n`);
    },
  });
  const decoder = new TextDecoder();
  for await (const chunk of upstream.body as unknown as AsyncIterable<Uint8Array>) parser.feed(decoder.decode(chunk, { stream: true }));
  parser.feed(decoder.decode());
  res.end(`id: ${++seq}\nevent: done\ndata: {}\n\n`);
}

const server = createServer((req, res) => {
  relay(req, res).catch((error: unknown) => {
    if (!res.headersSent) {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: String(error) }));
    } else res.destroy();
  });
});
server.keepAliveTimeout = 60_000;

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`bare-relay listening on http://127.0.0.1:${port}\n`);
});

const stop = () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
