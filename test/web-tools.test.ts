import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { LookupFunction } from 'node:net';
import type { ServerResponse } from 'node:http';
import type { Config } from '../src/config/schema.js';
import { ToolRegistry } from '../src/tools/registry.js';
import type { ToolContext } from '../src/tools/types.js';
import { createWebFetchTool } from '../src/tools/web-fetch.js';
import { setupWebSearch, WEB_SEARCH_UNAVAILABLE_DESCRIPTION } from '../src/tools/web-search.js';
import { startFakeOpenAI } from './support/fake-openai.js';
import { fakeProviderToml } from './support/fake-provider-config.js';
import { type FakeSite, type RecordedHttpRequest, startFakeBrave, startFakeSearxng, startFakeTavily, startSite } from './support/fake-web.js';
import { registerUser, startTestServer } from './support/server.js';
import { SseClient } from './support/sse.js';

// ---------------------------------------------------------------------------------------------
// Target sites. The "allowed" site listens on 127.0.0.2, which the servers under test list in
// tools.web_fetch.allow_hosts; the "secret" sites on 127.0.0.1 and ::1 are not allowed, and
// count connections so a test can prove a refusal happened before connecting.

const ARTICLE_HTML = `<!doctype html>
<html><head><title>Tidal Power Notes</title><base href="/docs/"><style>body { color: red }</style></head>
<body>
  <nav><a href="/">Home</a> | <a href="/about">About</a></nav>
  <article>
    <h1>How tidal power works</h1>
    <p>Tidal power converts the energy of tides into electricity. Barrages hold water back at high tide and
       release it through turbines, while tidal stream generators work like underwater wind turbines.
       See the <a href="turbines.html">turbine notes</a> and the <a href="javascript:alert(1)">script link</a>.</p>
    <p>The oldest large tidal plant, at La Rance in France, has run since 1966 and produces about
       500 GWh a year. Tides are predictable decades ahead, which makes the output easy to plan for.</p>
    <ul><li>Predictable output</li><li>High construction cost</li></ul>
    <img src="data:image/png;base64,${'A'.repeat(200)}" alt="inline"><img src="/img/rance.jpg" alt="La Rance">
    <script>document.write('TRACKING-SCRIPT')</script>
  </article>
  <footer>Copyright footer text</footer>
</body></html>`;

const LINKS_HTML = '<html><head><title>Index</title></head><body><ul><li><a href="/a">Alpha</a></li><li><a href="/b">Beta</a></li></ul><script>var SECRET_JS = 1;</script></body></html>';

/** 1x1 PNG. */
const PNG = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');

function send(response: ServerResponse, status: number, headers: Record<string, string>, body: string | Buffer = ''): void {
  response.writeHead(status, headers);
  response.end(body);
}

function allowedSiteHandler(request: RecordedHttpRequest, response: ServerResponse): void {
  const to = request.url.searchParams.get('to');
  switch (request.url.pathname) {
    case '/article':
      return send(response, 200, { 'content-type': 'text/html; charset=utf-8' }, ARTICLE_HTML);
    case '/article.gz':
      return send(response, 200, { 'content-type': 'text/html', 'content-encoding': 'gzip' }, gzipSync(ARTICLE_HTML));
    case '/links':
      return send(response, 200, { 'content-type': 'text/html' }, LINKS_HTML);
    case '/latin1':
      return send(response, 200, { 'content-type': 'text/html' }, Buffer.from('<html><head><meta charset="iso-8859-1"><title>Caf\xe9</title></head><body><p>Cr\xe8me br\xfbl\xe9e</p></body></html>', 'latin1'));
    case '/data.json':
      return send(response, 200, { 'content-type': 'application/json' }, '{"name":"tokendance","tags":["a","b"],"nested":{"ok":true}}');
    case '/vendor':
      return send(response, 200, { 'content-type': 'application/vnd.api+json' }, '{"data":{"id":"1"}}');
    case '/notes.txt':
      return send(response, 200, { 'content-type': 'text/plain; charset=utf-8' }, 'plain notes: <b>not html</b>\nline two');
    case '/image.png':
      return send(response, 200, { 'content-type': 'image/png' }, PNG);
    case '/report.pdf':
      return send(response, 200, { 'content-type': 'application/pdf' }, '%PDF-1.7\n%\xe2\xe3\xcf\xd3\n');
    case '/blob':
      return send(response, 200, { 'content-type': 'application/octet-stream' }, Buffer.from([0, 1, 2, 3]));
    case '/untyped-binary':
      return send(response, 200, {}, Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 0, 0, 1]));
    case '/spa':
      return send(response, 200, { 'content-type': 'text/html' }, '<html><head><title>App</title></head><body><div id="root"></div><script src="/app.js"></script></body></html>');
    case '/untyped-html':
      return send(response, 200, {}, '<!DOCTYPE html><html><head><title>No Type</title></head><body><p>Sniffed as HTML.</p></body></html>');
    case '/big.txt':
      return send(response, 200, { 'content-type': 'text/plain' }, 'x'.repeat(10_000));
    case '/bomb':
      // 64 MiB of text in ~64 KiB of gzip: only max_bytes of it may ever be inflated.
      return send(response, 200, { 'content-type': 'text/plain', 'content-encoding': 'gzip' }, gzipSync(Buffer.alloc(64 * 1024 * 1024, 'a')));
    case '/missing':
      return send(response, 404, { 'content-type': 'text/html' }, '<html><head><title>Not Found</title></head><body><p>No such page here.</p></body></html>');
    case '/hang':
      response.writeHead(200, { 'content-type': 'text/plain' });
      response.write('partial...');
      return; // never ends
    case '/redirect':
      return send(response, 302, { location: to ?? '/article' });
    case '/chain':
      return send(response, 301, { location: '/chain2' });
    case '/chain2':
      return send(response, 308, { location: `${request.headers.host ? `http://${request.headers.host}` : ''}/data.json` });
    case '/loop':
      return send(response, 302, { location: '/loop' });
    default:
      return send(response, 404, { 'content-type': 'text/plain' }, 'not found');
  }
}

const secretHandler = (_request: RecordedHttpRequest, response: ServerResponse) => send(response, 200, { 'content-type': 'text/plain' }, 'SECRET-INTERNAL-DATA');

// ---------------------------------------------------------------------------------------------
// Direct tool calls (no server): every case here is also checked for "no connection was made".

function toolContext(signal = new AbortController().signal): ToolContext {
  return { sessionId: 's1', runId: 'r1', workspaceDir: '/nonexistent', signal };
}

const fetchConfig = (overrides: Partial<Config['tools']['web_fetch']> = {}): Config['tools']['web_fetch'] => ({
  allow_hosts: ['127.0.0.2'],
  max_bytes: 4096,
  timeout_s: 5,
  max_redirects: 3,
  ...overrides,
});

describe('web_fetch called directly', () => {
  let allowed: FakeSite;
  let secret: FakeSite;
  let secret6: FakeSite;
  before(async () => {
    allowed = await startSite('127.0.0.2', allowedSiteHandler);
    secret = await startSite('127.0.0.1', secretHandler);
    secret6 = await startSite('::1', secretHandler);
  });
  after(async () => {
    await Promise.all([allowed.close(), secret.close(), secret6.close()]);
  });

  const fetchWith = (url: string, config = fetchConfig(), extra: { lookup?: LookupFunction; signal?: AbortSignal } = {}) =>
    createWebFetchTool({ config, ...(extra.lookup ? { lookup: extra.lookup } : {}) }).execute({ url }, toolContext(extra.signal));

  async function refusal(url: string, config = fetchConfig(), lookup?: LookupFunction): Promise<string> {
    const error = await fetchWith(url, config, { ...(lookup ? { lookup } : {}) }).then(
      (result) => assert.fail(`expected a refusal for ${url}, got: ${result.output.slice(0, 200)}`),
      (error: Error) => error,
    );
    return error.message;
  }

  test('every non-public range is refused by the connect-time check, including CGNAT and IPv4-mapped IPv6', async () => {
    const targets = [
      'http://127.0.0.1/', 'http://127.8.9.10/', 'http://10.0.0.1/', 'http://172.16.5.5/', 'http://172.31.255.254/',
      'http://192.168.1.1/', 'http://169.254.169.254/latest/meta-data/', 'http://100.64.0.1/', 'http://100.127.255.254/',
      'http://0.0.0.0/', 'http://[::]/', 'http://[::1]/', 'http://[fe80::1]/', 'http://[fc00::1]/', 'http://[fd12:3456::1]/',
      'http://[::ffff:127.0.0.1]/', 'http://[::ffff:7f00:1]/', 'http://[::ffff:169.254.169.254]/', 'http://[::ffff:10.0.0.1]/',
      'http://[64:ff9b::7f00:1]/', 'http://2130706433/', 'http://0x7f000001/', 'http://127.1/', 'http://017700000001/',
      'https://127.0.0.1/', 'https://[::1]:8443/', 'https://169.254.169.254/', 'https://localhost/',
    ];
    for (const url of targets) {
      const started = Date.now();
      const message = await refusal(url);
      assert.match(message, /SSRF protection/, `${url}: ${message}`);
      // No SYN was ever sent: unroutable addresses would otherwise hang until the timeout.
      assert.ok(Date.now() - started < 1000, `${url} was refused at once`);
    }
    // Public addresses are not caught by the filter (only the filter is exercised: lookup fails offline).
    const publicLookup: LookupFunction = (_host, _options, callback) => (callback as (e: NodeJS.ErrnoException) => void)(Object.assign(new Error('offline'), { code: 'ENOTFOUND' }));
    assert.doesNotMatch(await refusal('http://public.test/', fetchConfig(), publicLookup), /SSRF/);
  });

  test('names are checked on the address they resolve to at connect time (DNS rebinding)', async () => {
    const localhostMessage = await refusal(`http://localhost:${secret.port}/`);
    assert.match(localhostMessage, /localhost is or resolves to 127\.0\.0\.1/);

    // A resolver answering like a rebinding attacker's DNS: private address at connect time.
    const rebinding: LookupFunction = (_host, options, callback) => {
      const cb = callback as unknown as (error: null, addresses: unknown, family?: number) => void;
      if ((options as { all?: boolean }).all) cb(null, [{ address: '93.184.216.34', family: 4 }, { address: '127.0.0.1', family: 4 }]);
      else cb(null, '127.0.0.1', 4);
    };
    assert.match(await refusal(`http://rebind.test:${secret.port}/`, fetchConfig(), rebinding), /resolves to 127\.0\.0\.1/);
    const metadata: LookupFunction = (_host, options, callback) => {
      const cb = callback as unknown as (error: null, addresses: unknown, family?: number) => void;
      if ((options as { all?: boolean }).all) cb(null, [{ address: '169.254.169.254', family: 4 }]);
      else cb(null, '169.254.169.254', 4);
    };
    assert.match(await refusal('http://metadata.test/', fetchConfig(), metadata), /169\.254\.169\.254/);
    assert.equal(secret.connections, 0);
    assert.equal(secret6.connections, 0);
  });

  test('loopback sites really are refused before connecting; allow_hosts lets exactly the listed host through', async () => {
    for (const url of [`http://127.0.0.1:${secret.port}/`, `http://[::1]:${secret6.port}/`, `http://[::ffff:127.0.0.1]:${secret.port}/`, `http://localhost:${secret.port}/`]) {
      assert.match(await refusal(url), /SSRF protection/);
    }
    assert.equal(secret.connections, 0);
    assert.equal(secret6.connections, 0);

    const viaAllowed = await fetchWith(`http://127.0.0.1:${secret.port}/`, fetchConfig({ allow_hosts: ['127.0.0.1'] }));
    assert.match(viaAllowed.output, /SECRET-INTERNAL-DATA/);
    const viaIpv6 = await fetchWith(`http://[::1]:${secret6.port}/`, fetchConfig({ allow_hosts: ['[::1]'] }));
    assert.match(viaIpv6.output, /SECRET-INTERNAL-DATA/);
    // Allowing the address does not allow names that resolve to it.
    assert.match(await refusal(`http://localhost:${secret.port}/`, fetchConfig({ allow_hosts: ['127.0.0.1'] })), /SSRF/);
    // A listed name may resolve to a private address (an intranet host); 0.0.0.0 stays refused.
    const toLoopback: LookupFunction = (_host, options, callback) => {
      const cb = callback as unknown as (error: null, addresses: unknown, family?: number) => void;
      if ((options as { all?: boolean }).all) cb(null, [{ address: '127.0.0.2', family: 4 }]);
      else cb(null, '127.0.0.2', 4);
    };
    const intranet = await fetchWith(`http://Wiki.Intranet.:${allowed.port}/notes.txt`, fetchConfig({ allow_hosts: ['wiki.intranet'] }), { lookup: toLoopback });
    assert.match(intranet.output, /plain notes/);
    assert.match(await refusal(`http://0.0.0.0:${secret.port}/`, fetchConfig({ allow_hosts: ['0.0.0.0'] })), /SSRF/);
  });

  test('every redirect hop is checked: scheme, credentials, address, and the hop limit', async () => {
    const hop = (target: string) => `${allowed.origin}/redirect?to=${encodeURIComponent(target)}`;
    const connectionsBefore = secret.connections;
    assert.match(await refusal(hop(`http://127.0.0.1:${secret.port}/`)), /Refused to fetch http:\/\/127\.0\.0\.1:\d+\/.*SSRF/);
    assert.match(await refusal(hop(`http://localhost:${secret.port}/`)), /SSRF/);
    assert.match(await refusal(hop(`http://[::ffff:7f00:1]:${secret.port}/`)), /SSRF/);
    assert.match(await refusal(hop('http://169.254.169.254/latest/meta-data/iam/')), /SSRF/);
    assert.equal(secret.connections, connectionsBefore, 'no redirect reached the secret site');
    assert.match(await refusal(hop('file:///etc/passwd')), /Only http and https/);
    assert.match(await refusal(hop('gopher://127.0.0.2:70/')), /Only http and https/);
    assert.match(await refusal(hop(`http://admin:hunter2@127.0.0.2:${allowed.port}/article`)), /credentials/);
    assert.match(await refusal(`${allowed.origin}/loop`), /redirected more than 3 times/);

    const chained = await fetchWith(`${allowed.origin}/chain`);
    assert.equal(chained.success, true);
    assert.match(chained.output, new RegExp(`URL: ${allowed.origin}/data\\.json`));
    assert.match(await refusal(`${allowed.origin}/chain`, fetchConfig({ max_redirects: 1 })), /more than 1 times/);
  });

  test('URLs the tool must never fetch', async () => {
    assert.match(await refusal('file:///etc/passwd'), /Only http and https/);
    assert.match(await refusal('ftp://127.0.0.2/'), /Only http and https/);
    assert.match(await refusal('javascript:alert(1)'), /Only http and https/);
    assert.match(await refusal('data:text/plain,hello'), /Only http and https/);
    assert.match(await refusal(`http://user:pass@127.0.0.2:${allowed.port}/article`), /credentials/);
    assert.match(await refusal(`http://user@127.0.0.2:${allowed.port}/article`), /credentials/);
    assert.match(await refusal('not a url'), /not a valid absolute URL/);
    assert.match(await refusal('/relative/path'), /not a valid absolute URL/);
  });

  test('content handling: gzip, charsets, sniffing, JSON types, plain text and HTTP errors', async () => {
    const gzipped = await fetchWith(`${allowed.origin}/article.gz`);
    assert.match(gzipped.output, /^# Tidal Power Notes/);
    assert.match(gzipped.output, /La Rance/);

    const latin1 = await fetchWith(`${allowed.origin}/latin1`);
    assert.match(latin1.output, /# Café/);
    assert.match(latin1.output, /Crème brûlée/);

    const vendor = await fetchWith(`${allowed.origin}/vendor`);
    assert.match(vendor.output, /"data": \{\n {4}"id": "1"/);

    const text = await fetchWith(`${allowed.origin}/notes.txt`);
    assert.match(text.output, /Content-Type: text\/plain\n\nplain notes: <b>not html<\/b>\nline two$/);

    const sniffed = await fetchWith(`${allowed.origin}/untyped-html`);
    assert.match(sniffed.output, /# No Type[\s\S]*Sniffed as HTML\./);
    assert.match(await refusal(`${allowed.origin}/untyped-binary`), /content of type unknown/);

    const spa = await fetchWith(`${allowed.origin}/spa`);
    assert.match(spa.output, /^# App\nURL: .*\n\n\[the page has no readable text; it may build its content with JavaScript\]$/);

    const missing = await fetchWith(`${allowed.origin}/missing`);
    assert.equal(missing.success, false);
    assert.match(missing.output, /^HTTP 404 Not Found\n# Not Found[\s\S]*No such page here\./);
  });

  test('a decompression bomb stops at max_bytes', async () => {
    const started = Date.now();
    const result = await fetchWith(`${allowed.origin}/bomb`, fetchConfig({ max_bytes: 50_000 }));
    assert.match(result.output, /\n\n(a{50000})\n\n\[truncated: the response is larger than 50000 bytes/);
    assert.ok(Date.now() - started < 3000, 'did not inflate 64 MiB');
  });

  test('timeout_s bounds a stalled response; cancelling the run aborts the fetch', async () => {
    const started = Date.now();
    assert.match(await refusal(`${allowed.origin}/hang`, fetchConfig({ timeout_s: 0.5 })), /took longer than 0\.5s \(tools\.web_fetch\.timeout_s\)/);
    assert.ok(Date.now() - started < 2000);

    const controller = new AbortController();
    const pending = fetchWith(`${allowed.origin}/hang`, fetchConfig({ timeout_s: 30 }), { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('run cancelled')), 100);
    await assert.rejects(pending, /run cancelled/);
  });

  test('describe, risk and policy', () => {
    const tool = createWebFetchTool({ config: fetchConfig() });
    assert.deepEqual(tool.describe({ url: 'https://example.com/x' }), { operation: 'web_fetch', description: 'Fetch https://example.com/x' });
    assert.equal(tool.risk({ url: 'https://example.com/x' }), 'low');
    assert.equal(tool.defaultPolicy, 'allow');
    const registry = new ToolRegistry({ tools: [tool] });
    assert.equal(registry.policyFor('web_fetch'), 'allow');
    assert.ok(!registry.parseArgs('web_fetch', '{}').ok);
  });
});

// ---------------------------------------------------------------------------------------------
// Search backends called directly: configuration outcomes and error reporting.

const searchConfig = (overrides: Partial<Config['tools']['web_search']>): Config['tools']['web_search'] => ({ max_results: 5, ...overrides });

describe('web_search set-up', () => {
  test('no provider: not offered, no warning', () => {
    assert.deepEqual(setupWebSearch(searchConfig({}), { TAVILY_API_KEY: 'x' }), {});
    assert.match(WEB_SEARCH_UNAVAILABLE_DESCRIPTION, /no search backend is configured/);
    assert.match(WEB_SEARCH_UNAVAILABLE_DESCRIPTION, /\[tools\.web_search\]/);
  });

  test('a provider that cannot work is not offered and says why', () => {
    const missingKey = setupWebSearch(searchConfig({ provider: 'brave', api_key_env: 'MY_BRAVE_KEY' }), {});
    assert.equal(missingKey.tool, undefined);
    assert.match(missingKey.warning!, /provider "brave" needs an API key in the environment variable MY_BRAVE_KEY/);
    const blankKey = setupWebSearch(searchConfig({ provider: 'tavily' }), { TAVILY_API_KEY: '  ' });
    assert.match(blankKey.warning!, /TAVILY_API_KEY/);
    const noUrl = setupWebSearch(searchConfig({ provider: 'searxng' }), {});
    assert.equal(noUrl.tool, undefined);
    assert.match(noUrl.warning!, /"searxng" needs \[tools\.web_search\] url/);
    assert.ok(setupWebSearch(searchConfig({ provider: 'searxng', url: 'http://127.0.0.1:9/' }), {}).tool);
  });

  test('backend errors reach the model with the status but never the key', async () => {
    const tavily = await startFakeTavily('right-key');
    try {
      const { tool } = setupWebSearch(searchConfig({ provider: 'tavily', url: tavily.origin, api_key_env: 'K' }), { K: 'wrong-secret-key' });
      const registry = new ToolRegistry({ tools: [tool!] });
      const result = await registry.execute('web_search', '{"query":"anything"}', toolContext(), { timeoutMs: 5000, maxResultChars: 20000 });
      assert.equal(result.success, false);
      assert.match(result.output, /tavily search backend answered HTTP 401: .*invalid API key/);
      assert.doesNotMatch(result.output, /wrong-secret-key/);
      assert.ok(!registry.parseArgs('web_search', '{"query":"  "}').ok, 'blank queries are refused');
      assert.ok(!registry.parseArgs('web_search', '{"query":"a","max_results":6}').ok, 'max_results is capped by config');
    } finally {
      await tavily.close();
    }
    const searxng = await startFakeSearxng();
    try {
      const { tool } = setupWebSearch(searchConfig({ provider: 'searxng', url: `${searxng.origin}/wrong-prefix` }), {});
      await assert.rejects(tool!.execute({ query: 'q' }, toolContext()), /searxng search backend answered HTTP 404/);
    } finally {
      await searxng.close();
    }
    const unreachable = setupWebSearch(searchConfig({ provider: 'brave', url: 'http://127.0.0.1:9', api_key_env: 'K' }), { K: 'k' });
    await assert.rejects(unreachable.tool!.execute({ query: 'q' }, toolContext()), /brave search backend at http:\/\/127\.0\.0\.1:9 could not be reached/);
  });
});

// ---------------------------------------------------------------------------------------------
// Through the real server: a scripted model calls the tools, results arrive as tool_result events.

async function startWebServer(webSearchToml: string, env: Record<string, string> = {}) {
  const fake = await startFakeOpenAI();
  const toml = [
    fakeProviderToml(fake.baseUrl),
    '[limits]\nrequests_per_minute = 100000',
    '[agent]\nmax_iterations = 4',
    '[tools.web_fetch]\nallow_hosts = ["127.0.0.2"]\nmax_bytes = 4096\ntimeout_s = 5\nmax_redirects = 3',
    webSearchToml,
  ].join('\n');
  const server = await startTestServer({ toml, env });
  const user = await registerUser(server.api);

  /** Runs one model turn that makes `calls`, then returns the tool_result payloads in call order. */
  async function callTools(calls: Array<{ name: string; arguments: Record<string, unknown> }>) {
    const session = await server.api('POST', '/api/v1/sessions', { token: user.token, body: { workspace_id: user.workspaceId } });
    fake.enqueue({ toolCalls: calls }, { text: 'done' });
    const stream = await SseClient.open(`${server.url}/api/v1/chat/${session.body.id}/message`, { token: user.token, method: 'POST', body: { content: 'go' } });
    assert.equal(stream.status, 200);
    await stream.waitForEnd();
    assert.equal(stream.events.at(-1)!.event, 'done', JSON.stringify(stream.events.at(-1)));
    const callIds = stream.events.filter((event) => event.event === 'tool_call').map((event) => event.data.call_id);
    const results = stream.events.filter((event) => event.event === 'tool_result').map((event) => event.data);
    return callIds.map((id) => results.find((result) => result.call_id === id)!);
  }

  /** Tool names the model was offered on its most recent request. */
  const offeredTools = () =>
    ((fake.requests.at(-1)!.body as { tools?: Array<{ function: { name: string } }> }).tools ?? []).map((tool) => tool.function.name);

  return {
    fake,
    server,
    callTools,
    offeredTools,
    shutdown: async () => {
      await server.shutdown();
      await fake.close();
    },
  };
}

describe('web_fetch through the server', () => {
  let web: Awaited<ReturnType<typeof startWebServer>>;
  let allowed: FakeSite;
  let secret: FakeSite;
  let secret6: FakeSite;
  before(async () => {
    allowed = await startSite('127.0.0.2', allowedSiteHandler);
    secret = await startSite('127.0.0.1', secretHandler);
    secret6 = await startSite('::1', secretHandler);
    web = await startWebServer('');
  });
  after(async () => {
    await web.shutdown();
    await Promise.all([allowed.close(), secret.close(), secret6.close()]);
  });

  test('an HTML page comes back as Markdown: title, main content, absolute links, no scripts or chrome', async () => {
    const [result] = await web.callTools([{ name: 'web_fetch', arguments: { url: `${allowed.origin}/article` } }]);
    assert.equal(result.tool, 'web_fetch');
    assert.equal(result.success, true);
    const markdown: string = result.result;
    assert.match(markdown, /^# Tidal Power Notes\nURL: http:\/\/127\.0\.0\.2:\d+\/article\n\n/);
    assert.match(markdown, /## How tidal power works/);
    assert.match(markdown, /La Rance in France, has run since 1966/);
    assert.match(markdown, /- {1,3}Predictable output/);
    // Relative links resolve against <base href="/docs/">; script links keep only their text.
    assert.match(markdown, new RegExp(`\\[turbine notes\\]\\(${allowed.origin}/docs/turbines\\.html\\)`));
    assert.match(markdown, /script link/);
    assert.doesNotMatch(markdown, /javascript:/);
    assert.match(markdown, new RegExp(`!\\[La Rance\\]\\(${allowed.origin}/img/rance\\.jpg\\)`));
    assert.doesNotMatch(markdown, /data:image|AAAAAAAA/);
    assert.doesNotMatch(markdown, /TRACKING-SCRIPT|color: red|Copyright footer|<p>|<article>/);
    assert.match(web.offeredTools().join(','), /web_fetch/);
    assert.ok(!web.offeredTools().includes('web_search'), 'no provider configured: web_search is not offered');
  });

  test('a page without an article falls back to the whole body', async () => {
    const [result] = await web.callTools([{ name: 'web_fetch', arguments: { url: `${allowed.origin}/links` } }]);
    assert.match(result.result, /# Index/);
    assert.match(result.result, new RegExp(`\\[Alpha\\]\\(${allowed.origin}/a\\)[\\s\\S]*\\[Beta\\]\\(${allowed.origin}/b\\)`));
    assert.doesNotMatch(result.result, /SECRET_JS/);
  });

  test('JSON passes through pretty-printed; unsupported types are refused by name; the size cap truncates', async () => {
    const [json, png, pdf, blob, big] = await web.callTools([
      { name: 'web_fetch', arguments: { url: `${allowed.origin}/data.json` } },
      { name: 'web_fetch', arguments: { url: `${allowed.origin}/image.png` } },
      { name: 'web_fetch', arguments: { url: `${allowed.origin}/report.pdf` } },
      { name: 'web_fetch', arguments: { url: `${allowed.origin}/blob` } },
      { name: 'web_fetch', arguments: { url: `${allowed.origin}/big.txt` } },
    ]);
    assert.equal(json.success, true);
    assert.equal(
      json.result,
      `URL: ${allowed.origin}/data.json\nContent-Type: application/json\n\n${JSON.stringify({ name: 'tokendance', tags: ['a', 'b'], nested: { ok: true } }, null, 2)}`,
    );
    for (const [result, type] of [[png, 'image/png'], [pdf, 'application/pdf'], [blob, 'application/octet-stream']] as const) {
      assert.equal(result.success, false);
      assert.match(result.result, new RegExp(`content of type ${type.replace('/', '\\/')}, which web_fetch cannot turn into text`));
    }
    assert.equal(big.success, true);
    const body = /\n\n(x+)\n\n\[truncated/.exec(big.result);
    assert.ok(body, big.result.slice(-200));
    assert.equal(body[1]!.length, 4096);
    assert.match(big.result, /\[truncated: the response is larger than 4096 bytes \(tools\.web_fetch\.max_bytes\)/);
  });

  test('SSRF: loopback, metadata, private, IPv4-mapped and IPv6 loopback targets are refused without connecting', async () => {
    const targets = [
      `http://127.0.0.1:${secret.port}/`,
      `http://localhost:${secret.port}/`,
      'http://169.254.169.254/latest/meta-data/',
      `http://[::ffff:127.0.0.1]:${secret.port}/`,
      `http://[::1]:${secret6.port}/`,
      'http://10.0.0.1/',
      `${web.server.url}/api/health`, // the agent's own server
    ];
    const results = await web.callTools(targets.map((url) => ({ name: 'web_fetch', arguments: { url } })));
    results.forEach((result, index) => {
      assert.equal(result.success, false, targets[index]);
      assert.match(result.result, /^Error: Refused to fetch .*SSRF protection/, `${targets[index]}: ${result.result}`);
      assert.doesNotMatch(result.result, /SECRET-INTERNAL-DATA|healthy/);
    });
    assert.match(results[1].result, /localhost is or resolves to 127\.0\.0\.1/);
    assert.equal(secret.connections, 0);
    assert.equal(secret6.connections, 0);
  });

  test('SSRF: an allowed site redirecting to a loopback host is refused at the hop', async () => {
    const hop = (target: string) => `${allowed.origin}/redirect?to=${encodeURIComponent(target)}`;
    const [toLocalhost, toLoopbackIp, followed] = await web.callTools([
      { name: 'web_fetch', arguments: { url: hop(`http://localhost:${secret.port}/`) } },
      { name: 'web_fetch', arguments: { url: hop(`http://127.0.0.1:${secret.port}/`) } },
      { name: 'web_fetch', arguments: { url: hop(`${allowed.origin}/notes.txt`) } },
    ]);
    assert.match(toLocalhost.result, new RegExp(`Refused to fetch http://localhost:${secret.port}/.*SSRF`));
    assert.match(toLoopbackIp.result, new RegExp(`Refused to fetch http://127\\.0\\.0\\.1:${secret.port}/.*SSRF`));
    assert.equal(secret.connections, 0);
    assert.equal(followed.success, true);
    assert.match(followed.result, new RegExp(`URL: ${allowed.origin}/notes\\.txt`));
    assert.ok(allowed.requests.some((request) => request.path.startsWith('/redirect')));
    const sent = allowed.requests.find((request) => request.url.pathname === '/notes.txt')!;
    assert.match(String(sent.headers['user-agent']), /^TokenDance\//);
  });
});

describe('web_search through the server, one provider each', () => {
  const QUERY = 'tidal power "La Rance" & costs';

  test('tavily: POST /search with a Bearer key and a JSON body', async () => {
    const tavily = await startFakeTavily('tvly-test-key');
    const web = await startWebServer(`[tools.web_search]\nprovider = "tavily"\nurl = "${tavily.origin}"\napi_key_env = "TD_TAVILY"\nmax_results = 3`, { TD_TAVILY: 'tvly-test-key' });
    try {
      const [result, fewer] = await web.callTools([
        { name: 'web_search', arguments: { query: QUERY } },
        { name: 'web_search', arguments: { query: 'second', max_results: 2 } },
      ]);
      assert.ok(web.offeredTools().includes('web_search'));
      assert.ok(web.offeredTools().includes('web_fetch'));
      assert.equal(tavily.requests.length, 2);
      const sent = tavily.requests[0]!;
      assert.equal(sent.method, 'POST');
      assert.equal(sent.path, '/search');
      assert.equal(sent.headers.authorization, 'Bearer tvly-test-key');
      assert.match(String(sent.headers['content-type']), /^application\/json/);
      const body = JSON.parse(sent.body);
      assert.equal(body.query, QUERY);
      assert.equal(body.max_results, 3);
      assert.equal('api_key' in body, false, 'the key travels in the header only');
      assert.equal(JSON.parse(tavily.requests[1]!.body).max_results, 2);

      assert.equal(result.success, true);
      assert.equal(
        result.result,
        [
          `Web search results for "${QUERY}" (tavily):`,
          '',
          `Answer: Tavily's short answer about ${QUERY}.`,
          '',
          `1. Tavily result 1 for ${QUERY}`,
          '   URL: https://example.com/tavily/1',
          '   Snippet 1 from Tavily.',
          '',
          `2. Tavily result 2 for ${QUERY}`,
          '   URL: https://example.com/tavily/2',
          '   Snippet 2 from Tavily.',
          '',
          `3. Tavily result 3 for ${QUERY}`,
          '   URL: https://example.com/tavily/3',
          '   Snippet 3 from Tavily.',
        ].join('\n'),
      );
      assert.match(fewer.result, /2\. Tavily result 2 for second/);
      assert.doesNotMatch(fewer.result, /3\. /);
    } finally {
      await web.shutdown();
      await tavily.close();
    }
  });

  test('brave: GET /res/v1/web/search?q=&count= with X-Subscription-Token', async () => {
    const brave = await startFakeBrave('brave-key');
    const web = await startWebServer(`[tools.web_search]\nprovider = "brave"\nurl = "${brave.origin}/"\napi_key_env = "TD_BRAVE"\nmax_results = 2`, { TD_BRAVE: 'brave-key' });
    try {
      const [result] = await web.callTools([{ name: 'web_search', arguments: { query: QUERY } }]);
      const sent = brave.requests[0]!;
      assert.equal(sent.method, 'GET');
      assert.equal(sent.url.pathname, '/res/v1/web/search');
      assert.equal(sent.url.searchParams.get('q'), QUERY);
      assert.equal(sent.url.searchParams.get('count'), '2');
      assert.equal(sent.headers['x-subscription-token'], 'brave-key');
      assert.match(String(sent.headers.accept), /application\/json/);
      assert.equal(sent.body, '');
      assert.equal(result.success, true);
      assert.match(result.result, /^Web search results for .* \(brave\):\n\n1\. Brave result 1 for .*\n {3}URL: https:\/\/example\.org\/brave\/1\n {3}A highlighted snippet 1 & more\.\n\n2\. /);
      assert.doesNotMatch(result.result, /<strong>|&amp;|3\. /);
    } finally {
      await web.shutdown();
      await brave.close();
    }
  });

  test('searxng: GET {url}/search?q=&format=json, results cut to max_results', async () => {
    const searxng = await startFakeSearxng('/searx');
    const web = await startWebServer(`[tools.web_search]\nprovider = "searxng"\nurl = "${searxng.origin}/searx"\nmax_results = 4`);
    try {
      const [result] = await web.callTools([{ name: 'web_search', arguments: { query: QUERY } }]);
      const sent = searxng.requests[0]!;
      assert.equal(sent.method, 'GET');
      assert.equal(sent.url.pathname, '/searx/search');
      assert.equal(sent.url.searchParams.get('q'), QUERY);
      assert.equal(sent.url.searchParams.get('format'), 'json');
      assert.equal(result.success, true);
      assert.match(result.result, /4\. SearXNG result 4 for .*\n {3}URL: https:\/\/example\.net\/searx\/4\n {3}Content 4 from the metasearch\.$/);
      assert.doesNotMatch(result.result, /5\. /);
    } finally {
      await web.shutdown();
      await searxng.close();
    }
  });

  test('a configured provider without its key: the server starts and does not offer web_search', async () => {
    const web = await startWebServer('[tools.web_search]\nprovider = "brave"\napi_key_env = "TD_MISSING_BRAVE_KEY"');
    try {
      await web.callTools([{ name: 'web_fetch', arguments: { url: 'http://10.0.0.1/' } }]);
      assert.ok(web.offeredTools().includes('web_fetch'));
      assert.ok(!web.offeredTools().includes('web_search'));
    } finally {
      await web.shutdown();
    }
  });
});
