import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { resolveProfiles } from '../src/agent/profiles.js';
import { configSchema } from '../src/config/schema.js';
import { startFakeModelServer } from './support/fake-model-server.js';
import type { FakeTurn } from './support/fake-openai.js';
import { type FakeSite, type RecordedHttpRequest, startSite } from './support/fake-web.js';
import { registerUser } from './support/server.js';
import { type SseEvent, SseClient } from './support/sse.js';

type WireMessage = { role: string; content: unknown };
type WireBody = { messages: WireMessage[]; tools?: Array<{ type: string; function: { name: string } }> };

const DEEP_RESEARCH_TOOLS = ['file_list', 'file_read', 'file_write', 'findings_add', 'plan_update', 'progress_log', 'web_fetch', 'web_search'];
const CUSTOM_PROMPT = 'You are the custom reviewer profile. Only read files; never change them.';

const ARTICLE_HTML = `<!doctype html>
<html><head><title>La Rance Tidal Power Station</title></head>
<body><nav>Home | About</nav>
<article>
  <h1>La Rance Tidal Power Station</h1>
  <p>The La Rance tidal power station in Brittany, France, opened in 1966. It was the world's first tidal
     power station and for 45 years the largest one by installed capacity.</p>
  <p>Its 24 bulb turbines produce about 500 GWh of electricity a year, with a peak output of 240 MW.</p>
</article>
<footer>Footer text</footer></body></html>`;

/** The loopback "web": a page for web_fetch to read. */
function siteHandler(request: RecordedHttpRequest, response: ServerResponse): void {
  if (request.url.pathname === '/la-rance') {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    return void response.end(ARTICLE_HTML);
  }
  response.writeHead(404, { 'content-type': 'text/plain' });
  response.end('not found');
}

/** A SearXNG instance (`GET /search?q=&format=json`) whose results point at the loopback site. */
function searxngFor(site: () => FakeSite) {
  return (request: RecordedHttpRequest, response: ServerResponse): void => {
    const ok = request.method === 'GET' && request.url.pathname === '/search' && request.url.searchParams.get('format') === 'json';
    response.writeHead(ok ? 200 : 400, { 'content-type': 'application/json' });
    if (!ok) return void response.end('{"error":"bad request"}');
    const query = request.url.searchParams.get('q') ?? '';
    response.end(
      JSON.stringify({
        query,
        results: [
          { url: `${site().origin}/la-rance`, title: 'La Rance Tidal Power Station', content: 'The first tidal power station, opened in 1966.', engine: 'duckduckgo' },
          { url: `${site().origin}/missing`, title: `Another page about ${query}`, content: 'Less useful.', engine: 'duckduckgo' },
        ],
        answers: [],
        suggestions: [],
      }),
    );
  };
}

const offeredTools = (body: WireBody): string[] => (body.tools ?? []).map((tool) => tool.function.name).sort();
const named = (events: SseEvent[], name: string) => events.filter((event) => event.event === name);

describe('deep-research profile end to end', () => {
  let fixture: Awaited<ReturnType<typeof startFakeModelServer>>;
  let site: FakeSite;
  let searxng: FakeSite;

  before(async () => {
    site = await startSite('127.0.0.1', siteHandler);
    searxng = await startSite('127.0.0.1', searxngFor(() => site));
    fixture = await startFakeModelServer(
      [
        '[limits]',
        'requests_per_minute = 100000',
        '[tools.web_search]',
        'provider = "searxng"',
        `url = "${searxng.origin}"`,
        '[tools.web_fetch]',
        'allow_hosts = ["127.0.0.1"]',
        '[profiles.custom]',
        `system_prompt = "${CUSTOM_PROMPT}"`,
        'tools = ["file_read", "file_l*"]',
        'max_iterations = 3',
        '[profiles.canned]',
        'model = "offline"',
      ].join('\n'),
    );
  });
  after(async () => {
    await fixture.shutdown();
    await Promise.all([site.close(), searxng.close()]);
  });

  const workspaceDir = (sessionId: string) => join(fixture.server.environment.dir, 'data', 'workspaces', sessionId);

  async function createSession(taskType: string, token = fixture.user.token, workspaceId = fixture.user.workspaceId) {
    return fixture.server.api('POST', '/api/v1/sessions', { token, body: { workspace_id: workspaceId, title: 'Research', task_type: taskType } });
  }

  /** One chat message against scripted model turns; the run's SSE events and the model requests it caused. */
  async function chat(sessionId: string, turns: FakeTurn[], content: string) {
    const first = fixture.fake.requests.length;
    fixture.fake.enqueue(...turns);
    const stream = await SseClient.open(`${fixture.server.url}/api/v1/chat/${sessionId}/message`, { token: fixture.user.token, method: 'POST', body: { content } });
    assert.equal(stream.status, 200, JSON.stringify(stream.errorBody));
    await stream.waitForEnd();
    return { events: stream.events, requests: fixture.fake.requests.slice(first).map((request) => request.body as unknown as WireBody) };
  }

  test('plans, searches, fetches, records sourced findings and delivers report.md as the artifact', async () => {
    const created = await createSession('deep-research');
    assert.equal(created.status, 201);
    assert.equal(created.body.task_type, 'deep-research');
    const sessionId = created.body.id as string;
    const articleUrl = `${site.origin}/la-rance`;
    const report = [
      '# La Rance tidal power station',
      '',
      'La Rance, in Brittany, opened in 1966 and was the first tidal power station [1].',
      'It produces about 500 GWh a year from 24 bulb turbines [1].',
      '',
      '## Sources',
      '',
      `[1] ${articleUrl}`,
      '',
    ].join('\n');

    const { events, requests } = await chat(
      sessionId,
      [
        { toolCalls: [{ name: 'plan_update', arguments: { content: '# Plan\n- [ ] search\n- [ ] read sources\n- [ ] write report.md', status: 'in_progress' } }] },
        { toolCalls: [{ name: 'web_search', arguments: { query: 'La Rance tidal power station output' } }] },
        { toolCalls: [{ name: 'web_fetch', arguments: { url: articleUrl } }] },
        {
          toolCalls: [
            { name: 'findings_add', arguments: { content: 'La Rance opened in 1966 and produces about 500 GWh a year.', source: articleUrl } },
            { name: 'progress_log', arguments: { content: 'Read the La Rance article; next: write the report.' } },
          ],
        },
        { toolCalls: [{ name: 'file_write', arguments: { path: 'report.md', content: report } }] },
        { text: 'La Rance opened in 1966 and produces about 500 GWh a year [1]. The full report is in report.md.' },
      ],
      'How much electricity does the La Rance tidal station produce?',
    );

    // The profile's prompt and tool set went to the model, on every request of the run.
    assert.equal(requests.length, 6);
    const system = requests[0]!.messages[0]!;
    assert.equal(system.role, 'system');
    for (const instruction of [/deep-research mode/, /plan_update/, /web_search/, /web_fetch/, /findings_add/, /`source`/, /progress_log/, /report\.md/, /\[1\]/, /## Sources/]) {
      assert.match(String(system.content), instruction);
    }
    for (const body of requests) assert.deepEqual(offeredTools(body), DEEP_RESEARCH_TOOLS);
    assert.ok(!offeredTools(requests[0]!).includes('file_delete') && !offeredTools(requests[0]!).includes('shell'));

    // Every step arrived as a tool_call and a successful tool_result with the same call id.
    const calls = named(events, 'tool_call');
    const results = named(events, 'tool_result');
    const expectedTools = ['plan_update', 'web_search', 'web_fetch', 'findings_add', 'progress_log', 'file_write'];
    assert.deepEqual(calls.map((event) => event.data.tool), expectedTools);
    assert.deepEqual(results.map((event) => event.data.tool), expectedTools);
    results.forEach((result, index) => {
      assert.equal(result.data.success, true, `${result.data.tool}: ${result.data.result}`);
      assert.equal(result.data.call_id, calls[index]!.data.call_id);
      assert.ok(Number(calls[index]!.id) < Number(result.id), 'the call precedes its result');
    });
    const [, searchResult, fetchResult] = results;
    assert.match(searchResult!.data.result, /Web search results for "La Rance tidal power station output" \(searxng\)/);
    assert.ok(searchResult!.data.result.includes(`URL: ${articleUrl}`));
    assert.match(fetchResult!.data.result, /500 GWh/);
    assert.doesNotMatch(fetchResult!.data.result, /Footer text/);
    assert.equal(searxng.requests.length, 1);
    assert.equal(searxng.requests[0]!.url.searchParams.get('q'), 'La Rance tidal power station output');
    assert.deepEqual(site.requests.map((request) => request.path), ['/la-rance']);
    // The model read the page it was sent, as the tool message of the next request.
    assert.ok(requests[3]!.messages.some((message) => message.role === 'tool' && String(message.content).includes('500 GWh')));

    // Working memory changed three times, one event each; the plan was fed back into later requests.
    assert.deepEqual(named(events, 'working_memory').map((event) => [event.data.file, event.data.version]), [['task_plan.md', 1], ['findings.md', 1], ['progress.md', 1]]);
    assert.ok(requests[1]!.messages.some((message) => message.role === 'system' && String(message.content).startsWith('Current plan')));
    const findings = readFileSync(join(workspaceDir(sessionId), 'findings.md'), 'utf8');
    assert.ok(findings.includes(`La Rance opened in 1966 and produces about 500 GWh a year.\n\nSources:\n- ${articleUrl}\n`), findings);
    const memory = await fixture.server.api('GET', `/api/v1/chat/${sessionId}/working-memory`, { token: fixture.user.token });
    assert.ok(memory.body.findings.content.includes(`- ${articleUrl}`));
    assert.match(memory.body.progress.content, /next: write the report/);

    // report.md is the run's one artifact: on disk, announced, listed, downloadable, and in `done`.
    assert.equal(readFileSync(join(workspaceDir(sessionId), 'report.md'), 'utf8'), report);
    const artifactEvents = named(events, 'artifact');
    assert.deepEqual(artifactEvents.map((event) => event.data.name), ['report.md']);
    const listing = await fixture.server.api('GET', `/api/v1/sessions/${sessionId}/artifacts`, { token: fixture.user.token });
    assert.equal(listing.status, 200);
    assert.equal(listing.body.total, 1, 'working-memory files are not artifacts');
    const [artifact] = listing.body.items;
    assert.equal(artifact.name, 'report.md');
    assert.equal(artifact.path, 'report.md');
    assert.equal(artifact.mime_type, 'text/markdown');
    assert.equal(artifact.size, Buffer.byteLength(report));
    assert.equal(artifact.download_url, `/api/v1/artifacts/${artifact.id}/content`);
    const download = await fixture.server.api('GET', artifact.download_url, { token: fixture.user.token });
    assert.equal(download.status, 200);
    assert.equal(download.text, report);
    assert.match(download.headers.get('content-type') ?? '', /^text\/markdown/);
    assert.match(download.headers.get('content-disposition') ?? '', /report\.md/);
    assert.match(download.text, /\[1\]/);
    assert.ok(download.text.includes(`## Sources\n\n[1] ${articleUrl}`));
    // Auth: no token → 401; another user's token → 403.
    assert.equal((await fixture.server.api('GET', artifact.download_url)).status, 401);
    const stranger = await registerUser(fixture.server.api);
    const strangerDownload = await fixture.server.api('GET', artifact.download_url, { token: stranger.token });
    assert.equal(strangerDownload.status, 403);
    assert.doesNotMatch(strangerDownload.text, /500 GWh/);

    const done = events.at(-1)!;
    assert.equal(done.event, 'done');
    assert.equal(done.data.content, 'La Rance opened in 1966 and produces about 500 GWh a year [1]. The full report is in report.md.');
    assert.equal(done.data.iterations, 6);
    assert.deepEqual(
      done.data.artifacts.map((entry: { id: string; name: string; path: string; size: number }) => [entry.id, entry.name, entry.path, entry.size]),
      [[artifact.id, 'report.md', 'report.md', Buffer.byteLength(report)]],
    );
    const session = await fixture.server.api('GET', `/api/v1/sessions/${sessionId}`, { token: fixture.user.token });
    assert.equal(session.body.status, 'completed');
  });

  test('a tool outside the profile is refused even when the model calls it, and never asks for approval', async () => {
    const sessionId = (await createSession('deep-research')).body.id as string;
    const { events, requests } = await chat(
      sessionId,
      [
        { toolCalls: [{ name: 'file_write', arguments: { path: 'keep.txt', content: 'keep me' } }] },
        // file_delete is `ask` by default and shell is not in the profile either: both must be refused outright.
        { toolCalls: [{ name: 'file_delete', arguments: { path: 'keep.txt' } }, { name: 'shell', arguments: { command: 'echo pwned > pwned.txt' } }] },
        { text: 'I could not delete it.' },
      ],
      'write keep.txt, then delete it',
    );
    assert.equal(events.at(-1)!.event, 'done', JSON.stringify(events.map((event) => event.event)));
    assert.equal(named(events, 'confirm_required').length, 0);
    const results = named(events, 'tool_result');
    assert.deepEqual(results.map((event) => [event.data.tool, event.data.success]), [['file_write', true], ['file_delete', false], ['shell', false]]);
    assert.match(results[1]!.data.result, /^Tool "file_delete" is not available in this session/);
    // shell is registered only where its sandbox works; either way it must not run here.
    assert.match(results[2]!.data.result, /^Tool "shell" is not available in this session|^Unknown tool "shell"/);
    assert.ok(existsSync(join(workspaceDir(sessionId), 'keep.txt')));
    assert.ok(!existsSync(join(workspaceDir(sessionId), 'pwned.txt')));
    const pending = await fixture.server.api('GET', `/api/v1/sessions/${sessionId}/hitl/pending`, { token: fixture.user.token });
    assert.deepEqual(pending.body, []);
    // The model was told why, in the tool messages of its next request.
    const toolMessages = requests[2]!.messages.filter((message) => message.role === 'tool').map((message) => String(message.content));
    assert.equal(toolMessages.length, 3);
    assert.match(toolMessages[1]!, /file_delete.*not available/);
  });

  test('a [profiles.custom] from config is a task_type with its own prompt, tool subset (wildcards) and limit', async () => {
    const created = await createSession('custom');
    assert.equal(created.status, 201);
    assert.equal(created.body.task_type, 'custom');
    const sessionId = created.body.id as string;
    const { events, requests } = await chat(
      sessionId,
      [
        { toolCalls: [{ name: 'file_list', arguments: {} }] },
        { toolCalls: [{ name: 'file_write', arguments: { path: 'sneaky.txt', content: 'x' } }] },
        { text: 'The workspace is empty.' },
      ],
      'What is in the workspace?',
    );
    assert.equal(requests[0]!.messages[0]!.role, 'system');
    assert.equal(requests[0]!.messages[0]!.content, CUSTOM_PROMPT);
    for (const body of requests) assert.deepEqual(offeredTools(body), ['file_list', 'file_read']);
    const results = named(events, 'tool_result');
    assert.deepEqual(results.map((event) => [event.data.tool, event.data.success]), [['file_list', true], ['file_write', false]]);
    assert.ok(!existsSync(join(workspaceDir(sessionId), 'sneaky.txt')), 'a tool outside the subset never ran');
    assert.equal(events.at(-1)!.event, 'done');
    assert.equal(events.at(-1)!.data.content, 'The workspace is empty.');

    // max_iterations = 3 from the profile, not the server default of 25.
    const looping = (await createSession('custom')).body.id as string;
    const loop = await chat(looping, Array.from({ length: 3 }, () => ({ toolCalls: [{ name: 'file_list', arguments: {} }] })), 'loop');
    assert.equal(loop.requests.length, 3);
    const failure = loop.events.at(-1)!;
    assert.equal(failure.event, 'error');
    assert.equal(failure.data.code, 'MAX_ITERATIONS');
    assert.match(failure.data.message, /Stopped after 3 model calls/);
    assert.equal(fixture.fake.pending(), 0);
  });

  test("a profile's model: [profiles.canned] model = \"offline\" answers without calling the configured provider", async () => {
    const sessionId = (await createSession('canned')).body.id as string;
    const before = fixture.fake.requests.length;
    const stream = await SseClient.open(`${fixture.server.url}/api/v1/chat/${sessionId}/message`, { token: fixture.user.token, method: 'POST', body: { content: 'hi' } });
    await stream.waitForEnd();
    const done = stream.events.at(-1)!;
    assert.equal(done.event, 'done');
    assert.match(done.data.content, /offline demo model/);
    assert.equal(fixture.fake.requests.length, before, 'the default provider was not asked');
  });

  test('task_type must name a profile: unknown, inherited and odd names are 400', async () => {
    for (const taskType of ['Deep-Research', 'deep_research', '__proto__', 'constructor', 'toString', 'general ', '', 'x'.repeat(101), 'custom\u0000']) {
      const response = await createSession(taskType);
      assert.equal(response.status, 400, `${JSON.stringify(taskType)} → ${response.status}`);
    }
    const unknown = await createSession('nope');
    assert.match(unknown.body.detail, /Unknown task_type "nope"/);
    const hint = JSON.stringify(unknown.body.errors);
    for (const name of ['general', 'deep-research', 'custom', 'canned']) assert.ok(hint.includes(name), `${name} in ${hint}`);
    const numeric = await fixture.server.api('POST', '/api/v1/sessions', { token: fixture.user.token, body: { workspace_id: fixture.user.workspaceId, task_type: 7 } });
    assert.equal(numeric.status, 400);
    // Sessions without task_type use the general profile: every tool the policy allows, the general prompt.
    const general = await fixture.server.api('POST', '/api/v1/sessions', { token: fixture.user.token, body: { workspace_id: fixture.user.workspaceId } });
    assert.equal(general.body.task_type, 'general');
    const { requests } = await chat(general.body.id, [{ text: 'hello' }], 'hi');
    assert.match(String(requests[0]!.messages[0]!.content), /^You are TokenDance, a capable autonomous agent/);
    assert.ok(offeredTools(requests[0]!).includes('file_delete'), 'general offers file_delete (it asks for approval when called)');
    assert.ok(offeredTools(requests[0]!).includes('web_search'));
  });
});

test('config overlays a built-in profile key by key: a new prompt keeps deep-research tools', () => {
  const config = configSchema.parse({
    profiles: { 'deep-research': { system_prompt: 'Research, briefly.' }, general: { tools: ['file_*'], max_iterations: 4 } },
  });
  const profiles = resolveProfiles(config);
  const research = profiles.get('deep-research')!;
  assert.equal(research.systemPrompt, 'Research, briefly.');
  assert.deepEqual([...research.tools!].sort(), DEEP_RESEARCH_TOOLS);
  const general = profiles.get('general')!;
  assert.match(general.systemPrompt, /^You are TokenDance/);
  assert.deepEqual(general.tools, ['file_*']);
  assert.equal(general.maxIterations, 4);
  assert.deepEqual([...profiles.keys()].sort(), ['deep-research', 'general']);
});
