/**
 * A lean SSE client for the bench: node:http (cheaper than fetch at 100 streams) with
 * eventsource-parser, timestamping every chunk on arrival. Each `content` event's text is a
 * stamp `<t:MS>` written by the fake model, so receipt time minus stamp is the relay latency of
 * that token. It checks the stream as it goes: content in order, exactly the expected count,
 * a final `done`.
 */
import { Agent, request } from 'node:http';
import { createParser } from 'eventsource-parser';
import { parseStamps } from '../test/support/fake-openai.js';

export const agent = new Agent({ keepAlive: true, maxSockets: Infinity });

export interface RunResult {
  /** Epoch ms when the request was sent. */
  startedAt: number;
  /** Epoch ms of the first content event (NaN when none). */
  firstContentAt: number;
  /** Epoch ms of the last content event (NaN when none): with the first, the rate a stream was delivered at. */
  lastContentAt: number;
  endedAt: number;
  contentCount: number;
  /** Receipt time minus the fake's stamp, one per content event. */
  latencies: number[];
  sawDone: boolean;
  /** Problems found in the stream; empty when the run is correct. */
  problems: string[];
}

const now = (): number => performance.timeOrigin + performance.now();

export function runStream(url: string, options: { token?: string; body: unknown; expectedTokens: number; timeoutMs: number }): Promise<RunResult> {
  const payload = JSON.stringify(options.body);
  const headers: Record<string, string> = {
    accept: 'text/event-stream',
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(payload)),
  };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const result: RunResult = {
    startedAt: now(),
    firstContentAt: Number.NaN,
    lastContentAt: Number.NaN,
    endedAt: Number.NaN,
    contentCount: 0,
    latencies: [],
    sawDone: false,
    problems: [],
  };
  let lastId = Number.NEGATIVE_INFINITY;
  let lastStamp = Number.NEGATIVE_INFINITY;
  let receivedAt = 0;
  const problem = (text: string) => {
    if (result.problems.length < 5) result.problems.push(text);
  };

  const parser = createParser({
    onEvent: (message) => {
      if (message.id !== undefined && message.id !== '') {
        const id = Number(message.id);
        if (!(id > lastId)) problem(`event id ${message.id} after ${lastId}`);
        lastId = id;
      }
      if (message.event === 'content') {
        if (result.sawDone) problem('content after done');
        const text = (JSON.parse(message.data) as { text?: string }).text ?? '';
        const stamps = parseStamps(text);
        if (stamps.length !== 1) {
          problem(`content event without exactly one stamp: ${text.slice(0, 80)}`);
        } else {
          const stamp = stamps[0]!;
          if (stamp < lastStamp) problem(`token out of order: stamp ${stamp} after ${lastStamp}`);
          lastStamp = stamp;
          result.latencies.push(receivedAt - stamp);
        }
        if (result.contentCount === 0) result.firstContentAt = receivedAt;
        result.lastContentAt = receivedAt;
        result.contentCount += 1;
      } else if (message.event === 'done') {
        result.sawDone = true;
      } else if (message.event === 'error') {
        problem(`error event: ${message.data.slice(0, 200)}`);
      }
    },
  });

  return new Promise((resolve) => {
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      result.endedAt = now();
      if (result.contentCount !== options.expectedTokens) problem(`expected ${options.expectedTokens} content events, got ${result.contentCount}`);
      if (!result.sawDone) problem('no done event');
      resolve(result);
    };
    const req = request(url, { method: 'POST', headers, agent }, (res) => {
      if (res.statusCode !== 200 || !String(res.headers['content-type'] ?? '').startsWith('text/event-stream')) {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => {
          problem(`HTTP ${res.statusCode}: ${body.slice(0, 300)}`);
          finish();
        });
        return;
      }
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        receivedAt = now();
        parser.feed(chunk);
      });
      res.on('end', finish);
      res.on('error', (error) => {
        problem(`response error: ${error.message}`);
        finish();
      });
    });
    const timer = setTimeout(() => {
      problem(`timed out after ${options.timeoutMs} ms`);
      req.destroy();
      finish();
    }, options.timeoutMs);
    req.on('error', (error) => {
      problem(`request error: ${error.message}`);
      finish();
    });
    req.end(payload);
  });
}
