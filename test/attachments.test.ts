import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startFakeAnthropic } from './support/fake-anthropic.js';
import { startFakeOpenAI } from './support/fake-openai.js';
import { startFakeModelServer } from './support/fake-model-server.js';
import type { Api } from './support/http.js';
import { registerUser, startTestServer, TestEnvironment } from './support/server.js';
import { SseClient } from './support/sse.js';

// Present in node_modules as a dependency of other packages; used only to parse headers like a client would.
const contentDisposition = createRequire(import.meta.url)('content-disposition') as {
  parse(header: string): { type: string; parameters: Record<string, string> };
};

const LIMITS = '[limits]\nrequests_per_minute = 100000\nuploads_per_minute = 1000\n[agent]\nmax_iterations = 4';

/** A real 1×1 PNG. */
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');
/** A JPEG by its markers (SOI, APP0/JFIF, EOI): the server reads the type from these bytes. */
const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10]), Buffer.from('JFIF\0\x01\x01\0\0\x01\0\x01\0\0', 'latin1'), Buffer.from([0xff, 0xd9])]);
const GIF = Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'latin1');
const PLACEHOLDER = '[image omitted: this model cannot read images]';

const b64 = (data: Buffer | string) => Buffer.from(data).toString('base64');
const dataUrl = (mediaType: string, data: Buffer | string) => `data:${mediaType};base64,${b64(data)}`;

function providerToml(baseUrl: string, type: 'openai-compatible' | 'anthropic', vision: boolean): string {
  return [
    '[providers.fake]',
    `type = "${type}"`,
    `base_url = "${baseUrl}"`,
    'model = "fake-model"',
    'max_retry_s = 5',
    `supports_vision = ${vision}`,
    '[model]',
    'default = "fake"',
    LIMITS,
  ].join('\n');
}

async function upload(api: Api, token: string, bytes: Buffer | string, name: string, type: string): Promise<string> {
  const form = new FormData();
  form.append('file', new Blob([bytes], { type }), name);
  const response = await api('POST', '/api/v1/files', { token, raw: form });
  assert.equal(response.status, 201, response.text);
  return response.body.file_id;
}

async function chat(url: string, token: string, sessionId: string, body: unknown): Promise<SseClient> {
  const stream = await SseClient.open(`${url}/api/v1/chat/${sessionId}/message`, { token, method: 'POST', body });
  assert.equal(stream.status, 200, JSON.stringify(stream.errorBody));
  await stream.waitForEnd();
  const done = stream.events.find((event) => event.event === 'done');
  assert.ok(done, `the run completed: ${stream.events.map((event) => `${event.event}:${event.raw}`).join(' | ').slice(0, 1000)}`);
  return stream;
}

const newSession = async (api: Api, user: { token: string; workspaceId: string }): Promise<string> =>
  (await api('POST', '/api/v1/sessions', { token: user.token, body: { workspace_id: user.workspaceId } })).body.id;

type OpenAIPart = { type: string; text?: string; image_url?: { url: string } };
type OpenAIBody = { messages: Array<{ role: string; content: string | OpenAIPart[] | null }> };
const openAIUserMessages = (body: unknown) => (body as OpenAIBody).messages.filter((message) => message.role === 'user');
const imageUrlsOf = (content: unknown): string[] =>
  Array.isArray(content) ? (content as OpenAIPart[]).filter((part) => part.type === 'image_url').map((part) => part.image_url!.url) : [];
const textOf = (content: unknown): string =>
  typeof content === 'string' ? content : (content as Array<{ type: string; text?: string }>).filter((part) => part.type === 'text').map((part) => part.text).join('\n');

describe('attachments reach an OpenAI-compatible vision model as image_url parts', () => {
  let fake: Awaited<ReturnType<typeof startFakeOpenAI>>;
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let user: Awaited<ReturnType<typeof registerUser>>;
  before(async () => {
    fake = await startFakeOpenAI();
    server = await startTestServer({ toml: providerToml(fake.baseUrl, 'openai-compatible', true) });
    user = await registerUser(server.api);
  });
  after(async () => {
    await server.shutdown();
    await fake.close();
  });

  test('an uploaded PNG and a data-URL JPEG are image parts, in this turn and in every later one', async () => {
    const sessionId = await newSession(server.api, user);
    const pngId = await upload(server.api, user.token, PNG, 'dot.png', 'image/png');
    fake.enqueue({ text: 'A dot and a photo.' });
    await chat(server.url, user.token, sessionId, {
      content: 'What is in these pictures?',
      attachments: [{ file_id: pngId }, { type: 'image', url: dataUrl('image/jpeg', JPEG), name: 'photo.jpg' }],
    });
    const expected = [`data:image/png;base64,${b64(PNG)}`, `data:image/jpeg;base64,${b64(JPEG)}`];
    const [first] = openAIUserMessages(fake.requests.at(-1)!.body);
    assert.deepEqual(imageUrlsOf(first!.content), expected);
    assert.match(textOf(first!.content), /What is in these pictures\?/);
    assert.match(textOf(first!.content), /\[Attached image: dot\.png \(image\/png, \d+ bytes\)\]/);
    assert.match(textOf(first!.content), /\[Attached image: photo\.jpg \(image\/jpeg, \d+ bytes\)\]/);

    // A later turn rebuilds the conversation from the store: the images are still there.
    fake.enqueue({ text: 'Still a dot.' });
    await chat(server.url, user.token, sessionId, { content: 'And now?' });
    const later = openAIUserMessages(fake.requests.at(-1)!.body);
    assert.equal(later.length, 2);
    assert.deepEqual(imageUrlsOf(later[0]!.content), expected);
    assert.equal(later[1]!.content, 'And now?');

    const messages = await server.api('GET', `/api/v1/sessions/${sessionId}/messages`, { token: user.token });
    assert.match(messages.body.items[0].content, /\[Attached image: dot\.png/);
  });

  test('the type comes from the bytes: a PNG uploaded as octet-stream, a JPEG declared image/jpg, a GIF as a "document"', async () => {
    const sessionId = await newSession(server.api, user);
    const octetId = await upload(server.api, user.token, PNG, 'no-type', 'application/octet-stream');
    fake.enqueue({ text: 'ok' });
    await chat(server.url, user.token, sessionId, {
      content: 'look',
      attachments: [{ file_id: octetId }, { type: 'image', url: dataUrl('image/jpg', JPEG) }, { type: 'document', url: dataUrl('image/gif', GIF), name: 'anim.gif' }],
    });
    const [message] = openAIUserMessages(fake.requests.at(-1)!.body);
    assert.deepEqual(imageUrlsOf(message!.content), [`data:image/png;base64,${b64(PNG)}`, `data:image/jpeg;base64,${b64(JPEG)}`, `data:image/gif;base64,${b64(GIF)}`]);
  });

  test('text documents are inlined, uploaded or as data URLs (base64 with parameters, or percent-encoded)', async () => {
    const sessionId = await newSession(server.api, user);
    const csvId = await upload(server.api, user.token, 'region,total\nnorth,42\n', 'totals.csv', 'text/csv');
    fake.enqueue({ text: 'ok' });
    await chat(server.url, user.token, sessionId, {
      content: 'summarize',
      attachments: [
        { file_id: csvId },
        { type: 'document', url: `data:text/plain;charset=utf-8;base64,${b64('Grüße: the code is 7431')}`, name: 'notes.txt' },
        { type: 'document', url: 'data:,hello%20world%21' },
      ],
    });
    const [message] = openAIUserMessages(fake.requests.at(-1)!.body);
    assert.equal(typeof message!.content, 'string', 'no images: plain text content');
    const text = message!.content as string;
    assert.match(text, /\[Attached document: totals\.csv\]\n```\nregion,total\nnorth,42\n/);
    assert.match(text, /\[Attached document: notes\.txt\]\n```\nGrüße: the code is 7431\n```/);
    assert.match(text, /hello world!/);
  });

  test('bad attachments are refused before any run starts: 400, 404 and 413 with clear messages', async () => {
    const sessionId = await newSession(server.api, user);
    const tiffId = await upload(server.api, user.token, 'II*\0', 'scan.tiff', 'image/tiff');
    const fakePngId = await upload(server.api, user.token, 'this is not a png', 'fake.png', 'image/png');
    const bigPngId = await upload(server.api, user.token, Buffer.concat([PNG, Buffer.alloc(5 * 1024 * 1024)]), 'big.png', 'image/png');
    const other = await registerUser(server.api);
    const foreignId = await upload(server.api, other.token, PNG, 'theirs.png', 'image/png');
    const requestsBefore = fake.requests.length;
    const uploadsDir = join(server.environment.dir, 'data', 'uploads', user.userId);
    const storedBefore = readdirSync(uploadsDir).length;

    const cases: Array<[string, unknown[], number, RegExp]> = [
      ['svg', [{ type: 'image', url: dataUrl('image/svg+xml', '<svg xmlns="http://www.w3.org/2000/svg"/>') }], 400, /Unsupported image type image\/svg\+xml/],
      ['bmp', [{ type: 'image', url: 'data:image/bmp;base64,Qk0=' }], 400, /Unsupported image type image\/bmp/],
      ['uploaded tiff', [{ file_id: tiffId }], 400, /Unsupported image type image\/tiff/],
      ['no comma', [{ type: 'image', url: `data:image/png;base64${b64(PNG)}` }], 400, /missing ","/],
      ['bad media type', [{ type: 'image', url: `data:image png;base64,${b64(PNG)}` }], 400, /not a media type/],
      ['base64 garbage', [{ type: 'image', url: 'data:image/png;base64,@@not*base64!!' }], 400, /not valid base64/],
      ['base64 of impossible length', [{ type: 'image', url: 'data:image/png;base64,iVBOR' }], 400, /not valid base64/],
      ['padding inside', [{ type: 'image', url: 'data:image/png;base64,iV==BORw' }], 400, /not valid base64/],
      ['valid base64, not an image', [{ type: 'image', url: dataUrl('image/png', 'just some text') }], 400, /not a valid PNG, JPEG, GIF or WebP image/],
      ['empty image', [{ type: 'image', url: 'data:image/png;base64,' }], 400, /not a valid/],
      ['an image claiming a text type', [{ type: 'image', url: dataUrl('text/plain', PNG) }], 400, /cannot have type text\/plain/],
      ['uploaded garbage declared image/png', [{ file_id: fakePngId }], 400, /not a valid PNG/],
      ['not a data URL', [{ type: 'image', url: 'https://example.com/a.png' }], 400, /./],
      ['one good image, then a bad one', [{ type: 'image', url: dataUrl('image/png', PNG) }, { type: 'image', url: 'data:image/png;base64,%%%' }], 400, /not valid base64/],
      ['unknown file', [{ file_id: '00000000-0000-4000-8000-000000000000' }], 404, /not found/],
      ["another user's file", [{ file_id: foreignId }], 404, /not found/],
      ['image over 5 MiB', [{ file_id: bigPngId }], 413, /at most 5242880 bytes/],
    ];
    for (const [name, attachments, status, message] of cases) {
      const response = await server.api('POST', `/api/v1/chat/${sessionId}/message`, { token: user.token, body: { content: 'see', attachments } });
      assert.equal(response.status, status, `${name}: ${response.text}`);
      assert.equal(response.body.error_code, { 400: 'VALIDATION_ERROR', 404: 'NOT_FOUND', 413: 'PAYLOAD_TOO_LARGE' }[status], name);
      assert.match(response.body.detail, message, name);
    }
    // A data URL larger than the JSON body limit is cut off by the framework, also as 413.
    const huge = await server.api('POST', `/api/v1/chat/${sessionId}/message`, {
      token: user.token,
      body: { content: 'see', attachments: [{ type: 'image', url: dataUrl('image/png', Buffer.concat([PNG, Buffer.alloc(1024 * 1024)])) }] },
    });
    assert.equal(huge.status, 413);

    assert.equal(fake.requests.length, requestsBefore, 'no model call');
    const messages = await server.api('GET', `/api/v1/sessions/${sessionId}/messages`, { token: user.token });
    assert.equal(messages.body.total, 0, 'no run stored a message');
    assert.equal(readdirSync(uploadsDir).length, storedBefore, 'a refused message stored none of its data-URL images');
  });
});

describe('attachments reach an Anthropic vision model as base64 image blocks', () => {
  test('uploaded PNG and data-URL JPEG, in this turn and a later one', async () => {
    const fake = await startFakeAnthropic();
    const server = await startTestServer({ toml: providerToml(fake.baseUrl, 'anthropic', true) });
    try {
      const user = await registerUser(server.api);
      const sessionId = await newSession(server.api, user);
      const pngId = await upload(server.api, user.token, PNG, 'dot.png', 'image/png');
      fake.enqueue({ text: 'A dot and a photo.' }, { text: 'Still.' });
      await chat(server.url, user.token, sessionId, {
        content: 'Describe',
        attachments: [{ file_id: pngId }, { type: 'image', url: dataUrl('image/jpeg', JPEG), name: 'photo.jpg' }],
      });
      await chat(server.url, user.token, sessionId, { content: 'Again' });
      const expected = [
        { type: 'image', source: { type: 'base64', media_type: 'image/png', data: b64(PNG) } },
        { type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: b64(JPEG) } },
      ];
      for (const request of fake.requests) {
        const first = request.body.messages[0]!;
        assert.equal(first.role, 'user');
        assert.ok(Array.isArray(first.content));
        const blocks = first.content as Array<{ type: string; text?: string }>;
        assert.deepEqual(blocks.filter((block) => block.type === 'image'), expected);
        assert.match(blocks.find((block) => block.type === 'text')!.text!, /Describe/);
      }
      assert.equal(fake.requests.length, 2);
      assert.equal(fake.requests[1]!.body.messages.at(-1)!.content, 'Again');
    } finally {
      await server.shutdown();
      await fake.close();
    }
  });
});

describe('a model without vision', () => {
  test('gets a placeholder note instead of the image, and the run completes', async () => {
    const fake = await startFakeOpenAI();
    const server = await startTestServer({ toml: providerToml(fake.baseUrl, 'openai-compatible', false) });
    try {
      const user = await registerUser(server.api);
      const sessionId = await newSession(server.api, user);
      fake.enqueue({ text: 'I cannot see images, but the note says dot.png.' });
      const stream = await chat(server.url, user.token, sessionId, { content: 'What is this?', attachments: [{ type: 'image', url: dataUrl('image/png', PNG), name: 'dot.png' }] });
      assert.equal(stream.events.find((event) => event.event === 'done')!.data.content, 'I cannot see images, but the note says dot.png.');
      const body = fake.requests.at(-1)!.body;
      assert.doesNotMatch(JSON.stringify(body), /image_url|base64/);
      const [message] = openAIUserMessages(body);
      assert.ok(textOf(message!.content).includes(PLACEHOLDER));
      assert.match(textOf(message!.content), /\[Attached image: dot\.png \(image\/png/);
    } finally {
      await server.shutdown();
      await fake.close();
    }
  });
});

describe('images survive a server restart', () => {
  test('a new server process on the same data rebuilds the image parts from the stored message', async () => {
    const fake = await startFakeOpenAI();
    const environment = await TestEnvironment.create();
    try {
      const toml = providerToml(fake.baseUrl, 'openai-compatible', true);
      const first = await environment.start({ toml });
      const user = await registerUser(first.api);
      const sessionId = await newSession(first.api, user);
      await chat(first.url, user.token, sessionId, { content: 'Remember this', attachments: [{ type: 'image', url: dataUrl('image/png', PNG), name: 'dot.png' }] });
      await first.stop();

      const second = await environment.start({ toml });
      try {
        await chat(second.url, user.token, sessionId, { content: 'What did I send?' });
        const [original, latest] = openAIUserMessages(fake.requests.at(-1)!.body);
        assert.deepEqual(imageUrlsOf(original!.content), [`data:image/png;base64,${b64(PNG)}`]);
        assert.equal(latest!.content, 'What did I send?');
      } finally {
        await second.stop();
      }
    } finally {
      await environment.destroy();
      await fake.close();
    }
  });
});

describe('artifact downloads', () => {
  let fixture: Awaited<ReturnType<typeof startFakeModelServer>>;
  before(async () => {
    fixture = await startFakeModelServer(LIMITS);
  });
  after(() => fixture.shutdown());

  const NASTY: Array<[string, string]> = [
    [`x"y;z'é%*(1).txt`, 'text/plain'],
    ['back\\slash; filename=evil.txt', 'text/plain'],
    ['crlf\r\nSet-Cookie: stolen=1.txt', 'text/plain'],
    ['日本語 ファイル.md', 'text/markdown'],
    ['%41%42 already-encoded.txt', 'text/plain'],
    ['page.html', 'text/html'],
    ['drawing.svg', 'image/svg+xml'],
  ];

  async function writeArtifacts(files: Array<{ path: string; content: string }>): Promise<{ sessionId: string; items: Array<{ id: string; name: string; path: string; download_url: string }> }> {
    const { fake, server, user } = fixture;
    const sessionId = await fixture.newSession();
    fake.enqueue({ toolCalls: files.map((file) => ({ name: 'file_write', arguments: file })) }, { text: 'written' });
    const stream = await chat(server.url, user.token, sessionId, { content: 'write the files' });
    const results = stream.events.filter((event) => event.event === 'tool_result');
    assert.deepEqual(results.map((event) => event.data.success), files.map(() => true), JSON.stringify(results.map((event) => event.data.result)));
    const artifacts = await server.api('GET', `/api/v1/sessions/${sessionId}/artifacts`, { token: user.token });
    assert.equal(artifacts.body.total, files.length);
    return { sessionId, items: artifacts.body.items };
  }

  test('any file name gives a safe Content-Disposition that decodes back to the name; active content is never rendered', async () => {
    const { server, user } = fixture;
    const { items } = await writeArtifacts(NASTY.map(([name]) => ({ path: name, content: `content of ${name}` })));
    for (const [name, mimeType] of NASTY) {
      const item = items.find((candidate) => candidate.name === name);
      assert.ok(item, `artifact ${JSON.stringify(name)} listed`);
      const response = await fetch(`${server.url}${item.download_url}`, { headers: { authorization: `Bearer ${user.token}` } });
      assert.equal(response.status, 200, name);
      assert.equal(await response.text(), `content of ${name}`);
      assert.equal(response.headers.get('content-type')!.split(';')[0], mimeType, name);
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
      assert.match(response.headers.get('content-security-policy')!, /(^|;\s*)sandbox(\s*;|$)/);
      assert.match(response.headers.get('content-security-policy')!, /default-src 'none'/);
      const header = response.headers.get('content-disposition')!;
      // One ASCII-only quoted fallback with nothing to escape, then the strict RFC 8187 ext-value.
      assert.match(header, /^attachment; filename="[\x20\x21\x23-\x5b\x5d-\x7e]+"; filename\*=UTF-8''(?:[A-Za-z0-9!#$&+\-.^_`|~]|%[0-9A-F]{2})+$/, `${name}: ${header}`);
      const parsed = contentDisposition.parse(header);
      assert.equal(parsed.type, 'attachment');
      assert.equal(parsed.parameters.filename, name, `${name} round-trips: ${header}`);
    }
    const quote = items.find((candidate) => candidate.name.startsWith('x"y'))!;
    const response = await fetch(`${server.url}${quote.download_url}`, { headers: { authorization: `Bearer ${user.token}` } });
    assert.equal(response.headers.get('content-disposition'), `attachment; filename="x_y_z'e_*(1).txt"; filename*=UTF-8''x%22y%3Bz%27%C3%A9%25%2A%281%29.txt`);
  });

  test('auth: no token 401, another user 403, unknown id 404', async () => {
    const { server } = fixture;
    const { items } = await writeArtifacts([{ path: 'private.txt', content: 'secret plans' }]);
    const url = `${server.url}${items[0]!.download_url}`;
    const anonymous = await fetch(url);
    assert.equal(anonymous.status, 401);
    assert.doesNotMatch(await anonymous.text(), /secret plans/);
    const stranger = await registerUser(server.api);
    const foreign = await fetch(url, { headers: { authorization: `Bearer ${stranger.token}` } });
    assert.equal(foreign.status, 403);
    assert.doesNotMatch(await foreign.text(), /secret plans/);
    const unknown = await fetch(`${server.url}/api/v1/artifacts/00000000-0000-4000-8000-000000000000/content`, { headers: { authorization: `Bearer ${stranger.token}` } });
    assert.equal(unknown.status, 404);
    const head = await fetch(url, { method: 'HEAD', headers: { authorization: `Bearer ${fixture.user.token}` } });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String('secret plans'.length));
    assert.equal(head.headers.get('content-disposition'), `attachment; filename="private.txt"; filename*=UTF-8''private.txt`);
    assert.equal(await head.text(), '');
  });

  test('an artifact replaced by a symlink out of the workspace, or by a FIFO, is a 404, not the file behind it', async () => {
    const { server, user } = fixture;
    const { sessionId, items } = await writeArtifacts([
      { path: 'link.txt', content: 'x' },
      { path: 'pipe.txt', content: 'y' },
      { path: 'inner.txt', content: 'z' },
    ]);
    const workspace = join(server.environment.dir, 'data', 'workspaces', sessionId);
    const secret = join(server.environment.dir, 'host-secret.txt');
    writeFileSync(secret, 'HOST SECRET');
    rmSync(join(workspace, 'link.txt'));
    symlinkSync(secret, join(workspace, 'link.txt'));
    rmSync(join(workspace, 'pipe.txt'));
    execFileSync('mkfifo', [join(workspace, 'pipe.txt')]);
    const byName = (name: string) => items.find((item) => item.name === name)!;
    for (const name of ['link.txt', 'pipe.txt']) {
      const response = await fetch(`${server.url}${byName(name).download_url}`, { headers: { authorization: `Bearer ${user.token}` }, signal: AbortSignal.timeout(5000) });
      assert.equal(response.status, 404, name);
      assert.doesNotMatch(await response.text(), /HOST SECRET/);
    }
    // A symlink that stays inside the workspace is still served.
    rmSync(join(workspace, 'inner.txt'));
    writeFileSync(join(workspace, 'target.txt'), 'inside');
    symlinkSync(join(workspace, 'target.txt'), join(workspace, 'inner.txt'));
    const inner = await fetch(`${server.url}${byName('inner.txt').download_url}`, { headers: { authorization: `Bearer ${user.token}` } });
    assert.equal(inner.status, 200);
    assert.equal(await inner.text(), 'inside');
  });
});
