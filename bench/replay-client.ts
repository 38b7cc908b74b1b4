/**
 * A fast SSE reader for the replay scenario: node:http and eventsource-parser, no promise or
 * allocation per event beyond what the parser makes, so the client can take well over 100 000
 * events/s and the server's replay is what gets measured. It checks every frame's id is greater
 * than the last (no duplicate, no reordering) and stops at a given id or when told to.
 * Each read opens a new connection, as a reconnecting client does.
 */
import { request } from 'node:http';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { now } from './stats.js';

export interface ReadOptions {
  token?: string;
  /** Sent as Last-Event-ID; omitted when undefined. */
  lastEventId?: number;
  /** Stop once a frame with an id ≥ this arrives. */
  stopAtId?: number;
  /** Called for every frame; returning true stops the read. Keep it cheap on timed reads. */
  onEvent?: (message: EventSourceMessage) => boolean | void;
  timeoutMs: number;
}

export interface ReadResult {
  /** Frames with data (comments such as `: connected` and pings are not frames). */
  frames: number;
  lastId: number;
  /** Request sent → the frame that stopped the read (or the end). */
  elapsedMs: number;
  /** CPU this process spent during the read: above ~90 % of elapsed, the client was the bottleneck. */
  clientCpuMs: number;
  stoppedAtTarget: boolean;
  problems: string[];
}

export interface Reader {
  /** Resolves once the response head has arrived (the server has accepted the stream). */
  opened: Promise<void>;
  result: Promise<ReadResult>;
  /** Ends the read now (for open-ended live reads). */
  close(): void;
}

export function readEvents(url: string, options: ReadOptions): Reader {
  const headers: Record<string, string> = { accept: 'text/event-stream' };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.lastEventId !== undefined) headers['last-event-id'] = String(options.lastEventId);
  const problems: string[] = [];
  const problem = (text: string) => {
    if (problems.length < 5) problems.push(text);
  };
  const startedAt = now();
  const cpuBefore = process.cpuUsage();
  let frames = 0;
  let lastId = Number.NEGATIVE_INFINITY;
  let stoppedAtTarget = false;
  let settled = false;
  let finish: () => void = () => {};
  let markOpened: () => void = () => {};
  let failOpen: (error: Error) => void = () => {};
  const opened = new Promise<void>((resolvePromise, reject) => {
    markOpened = resolvePromise;
    failOpen = reject;
  });
  opened.catch(() => {}); // a read that never opens reports through `result` too

  const parser = createParser({
    onEvent: (message) => {
      if (settled) return;
      frames += 1;
      if (message.id !== undefined && message.id !== '') {
        const id = Number(message.id);
        if (!(id > lastId)) problem(`event id ${message.id} after ${lastId}`);
        lastId = id;
      } else problem('frame without an id');
      const stop = options.onEvent?.(message) === true;
      if (options.stopAtId !== undefined && lastId >= options.stopAtId) stoppedAtTarget = true;
      if (stop || stoppedAtTarget) finish();
    },
  });

  const result = new Promise<ReadResult>((resolvePromise) => {
    const req = request(url, { method: 'GET', headers, agent: false }, (res) => {
      if (res.statusCode !== 200) {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => {
          problem(`HTTP ${res.statusCode}: ${body.slice(0, 300)}`);
          failOpen(new Error(problems[0]));
          finish();
        });
        return;
      }
      markOpened();
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => parser.feed(chunk));
      res.on('end', finish);
      res.on('error', (error) => {
        if (!settled) problem(`response error: ${error.message}`);
        finish();
      });
    });
    const timer = setTimeout(() => {
      problem(`timed out after ${options.timeoutMs} ms with ${frames} frames (last id ${lastId})`);
      finish();
    }, options.timeoutMs);
    finish = () => {
      if (settled) return;
      settled = true;
      const elapsedMs = now() - startedAt;
      const cpu = process.cpuUsage(cpuBefore);
      clearTimeout(timer);
      req.destroy();
      if (options.stopAtId !== undefined && !stoppedAtTarget) problem(`stream ended before id ${options.stopAtId} (last ${lastId})`);
      failOpen(new Error(problems[0] ?? 'closed before it opened'));
      resolvePromise({ frames, lastId, elapsedMs, clientCpuMs: (cpu.user + cpu.system) / 1000, stoppedAtTarget, problems });
    };
    req.on('error', (error) => {
      if (!settled) problem(`request error: ${error.message}`);
      finish();
    });
    req.end();
  });
  return { opened, result, close: () => finish() };
}
