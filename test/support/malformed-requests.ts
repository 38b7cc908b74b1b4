import { randomUUID } from 'node:crypto';
import { type Kind, type Operation, revokesToken, type Surface } from './openapi-operations.js';
import type { ExchangeOptions } from './raw-exchange.js';

/**
 * Malformed requests for every operation of an OpenAPI document, so routes added later are
 * covered without touching the robustness test. Each case is raw bytes (fetch would refuse or
 * repair most of them) plus what the answer must be beyond the universal rules (no 5xx, the
 * surface's error body, X-Request-Id).
 */

export interface Case {
  label: string;
  surface: Surface;
  request: Buffer;
  options?: ExchangeOptions;
  /** Allowed statuses, when the input decides them. */
  expect?: number[];
  /** Echoed X-Request-Id expected. */
  requestId?: string;
  /** Headers the answer must carry, with these values. */
  expectHeaders?: Record<string, string>;
  /** Runs after everything else: it may delete the caller's resources or revoke its token. */
  destructive: boolean;
  /** Revokes the valid token it carries when it succeeds (logout): run alone, with a fresh token swapped in. */
  revokes?: boolean;
}

export interface Fixtures {
  own: Record<Kind, string>;
  /** Resources of another user; absent for kinds nobody owns (tools). */
  other: Partial<Record<Kind, string>>;
  tokens: { valid: string; expired: string; forged: string; algNone: string };
  bodyMaxBytes: number;
  uploadMaxBytes: number;
}

interface IdVariant {
  name: string;
  id: string | Buffer;
  /** The URL parser or router refuses it before authentication: the same status with or without a token. */
  router?: number[];
  /** What a caller with a valid token gets. */
  withToken?: number[];
  /** A plausible id: without a token the TokenDance API must refuse it with 401. */
  plausible?: boolean;
}

/** Path parameter stand-ins, as they go on the wire (already percent-encoded or raw bytes). */
function idVariants(fixtures: Fixtures, kind: Kind, maxLength = 200): IdVariant[] {
  const own = fixtures.own[kind];
  const other = fixtures.other[kind];
  return [
    { name: 'own', id: own, plausible: true },
    ...(other ? [{ name: 'other user', id: other, withToken: [403, 404], plausible: true }] : []),
    { name: 'unknown uuid', id: randomUUID(), withToken: [404], plausible: true },
    { name: 'garbage', id: 'not-an-id', plausible: true },
    { name: 'dot-dot', id: '..' },
    // Over the schema's limit: a validation error, or the router's 414 when also over its own.
    { name: `id of ${maxLength + 1}`, id: 'a'.repeat(maxLength + 1), withToken: [400, 414] },
    { name: 'id of 5000', id: 'a'.repeat(5000), router: [414] },
    { name: '%00', id: '%00', withToken: [400] },
    { name: 'own+%00', id: `${own}%00`, withToken: [400] },
    { name: '%ff%fe', id: '%ff%fe', router: [400] },
    { name: '%zz', id: '%zz', router: [400] },
    { name: 'truncated utf-8', id: '%E2%82', router: [400] },
    { name: 'encoded junk', id: encodeURIComponent("😀\u202e<script>' OR 1=1--") },
    { name: 'raw 0xff 0xfe', id: Buffer.from([0xff, 0xfe]) },
    { name: 'raw NUL', id: Buffer.from([0x61, 0x00, 0x62]), router: [400] },
  ];
}

function target(path: string, id: string | Buffer, query = ''): Buffer {
  const parts = path.split(/\{[^}]+\}/).map((part) => Buffer.from(part));
  const value = Buffer.isBuffer(id) ? id : Buffer.from(id);
  return Buffer.concat([...parts.flatMap((part, index) => (index === 0 ? [part] : [value, part])), Buffer.from(query)]);
}

interface Wire {
  method: string;
  target: Buffer;
  headers?: string[];
  body?: Buffer;
}

/** One HTTP/1.1 request as bytes; Content-Length is computed from the body unless a header sets it (or Transfer-Encoding). */
export function wire({ method, target: path, headers = [], body }: Wire): Buffer {
  const lines = [...headers];
  if (body && !lines.some((line) => /^(content-length|transfer-encoding):/i.test(line))) lines.push(`Content-Length: ${body.length}`);
  const head = `HTTP/1.1\r\nHost: test\r\n${lines.map((line) => `${line}\r\n`).join('')}Connection: close\r\n\r\n`;
  return Buffer.concat([Buffer.from(`${method} `), path, Buffer.from(` ${head}`), body ?? Buffer.alloc(0)]);
}

const JSON_TYPE = 'Content-Type: application/json';
const BOUNDARY = 'robustnessboundary';

function multipartFile(size: number): Buffer {
  return Buffer.concat([
    Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\n`),
    Buffer.alloc(size, 'x'),
    Buffer.from(`\r\n--${BOUNDARY}--\r\n`),
  ]);
}

/** The well-formed body of an operation, with its content type. */
function validBody(operation: Operation): { headers: string[]; body?: Buffer } {
  if (operation.json) return { headers: [JSON_TYPE], body: Buffer.from(JSON.stringify(operation.json.example)) };
  if (operation.multipart) return { headers: [`Content-Type: multipart/form-data; boundary=${BOUNDARY}`], body: multipartFile(16) };
  return { headers: [] };
}

const SWAPS: Array<[string, unknown]> = [
  ['number', 12345],
  ['string', 'x'],
  ['array', [1, 'a', null]],
  ['object', { nested: { deeper: true } }],
  ['null', null],
  ['bool', true],
];

const BAD_JSON = ['{', '{"a":1', '{"a":}', "{'a':1}", '{"a":1,}', '{"a":1}trailing', 'nul', '{"a":"\\x"}', '{"a":"\\u12"}', '\u0000', ''];

const DEPTH = 10_000;

export function buildCases(operations: Operation[], fixtures: Fixtures): Case[] {
  const cases: Case[] = [];
  const auth = (token: string) => `Authorization: Bearer ${token}`;
  const valid = auth(fixtures.tokens.valid);
  const hugeString = Buffer.from(JSON.stringify({ padding: 'x'.repeat(fixtures.bodyMaxBytes + 1024) }));
  const hugeArray = Buffer.from(`[${'0,'.repeat(Math.ceil(fixtures.bodyMaxBytes / 2))}0]`);
  const deepArrays = Buffer.from('['.repeat(DEPTH) + ']'.repeat(DEPTH));
  const deepObjects = Buffer.from('{"a":'.repeat(DEPTH) + '1' + '}'.repeat(DEPTH));
  let requestCounter = 0;

  for (const operation of operations) {
    const destructive = operation.method === 'DELETE' || revokesToken(operation);
    const ownId = operation.kind ? fixtures.own[operation.kind] : '';
    const ownTarget = (query = '') => target(operation.path, ownId, query);
    const add = (label: string, request: Buffer, extra: Partial<Case> = {}) =>
      cases.push({ label: `${operation.method} ${operation.path} ${label}`, surface: operation.surface, request, destructive, revokes: revokesToken(operation), ...extra });
    const { headers: bodyHeaders, body: goodBody } = validBody(operation);
    const unauthorized = operation.secured ? [401] : undefined;

    // Path parameters, with and without a token.
    const ids: IdVariant[] = operation.kind ? idVariants(fixtures, operation.kind, operation.paramMaxLength) : [{ name: '-', id: '', plausible: true }];
    for (const { name, id, router, withToken, plausible } of ids) {
      const path = target(operation.path, id);
      add(`id=${name} token=valid`, wire({ method: operation.method, target: path, headers: [valid, ...bodyHeaders], body: goodBody }), { expect: router ?? withToken });
      // Without a token: the ids the router refuses, and plausible ones (refused for want of a token).
      if (!router && !plausible) continue;
      add(`id=${name} token=none`, wire({ method: operation.method, target: path, headers: bodyHeaders, body: goodBody }), { expect: router ?? (operation.tokenOnly ? [401] : undefined) });
    }

    // Refused credentials.
    const refused: Array<[string, string]> = [
      ['expired', auth(fixtures.tokens.expired)],
      ['forged', auth(fixtures.tokens.forged)],
      ['alg none', auth(fixtures.tokens.algNone)],
      ['garbage', auth('garbage')],
      ['empty bearer', 'Authorization: Bearer '],
      ['basic', 'Authorization: Basic dXNlcjpwYXNz'],
      ['12 KB token', auth('e'.repeat(12_000))],
      ['token twice', `${valid}\r\n${auth(fixtures.tokens.forged)}`],
    ];
    // A public route ignores a refused token (register and login hash a password each time: two suffice there).
    for (const [name, header] of operation.secured ? refused : refused.slice(0, 2)) {
      add(`token=${name}`, wire({ method: operation.method, target: ownTarget(), headers: [header, ...bodyHeaders], body: goodBody }), {
        expect: name === 'token twice' ? undefined : unauthorized,
      });
    }

    // Bodies (a valid token and the caller's own id, so only the body is wrong). Routes without a body get a few.
    const send = (label: string, body: Buffer, headers: string[] = [JSON_TYPE], extra: Partial<Case> = {}) =>
      add(label, wire({ method: operation.method, target: ownTarget(), headers: [valid, ...headers], body }), extra);
    const hasBody = operation.json !== undefined || operation.multipart;
    const badJsonExpect = operation.json ? [400] : undefined;
    for (const text of operation.json ? BAD_JSON : BAD_JSON.slice(0, 1)) send(`bad json ${JSON.stringify(text)}`, Buffer.from(text), [JSON_TYPE], { expect: badJsonExpect });
    // Routes without a body (GET) may ignore one, however large.
    send('huge json string', hugeString, [JSON_TYPE], { expect: hasBody ? [413] : undefined });
    send('10 000 nested arrays', deepArrays, [JSON_TYPE], { expect: badJsonExpect });
    send('truncated, half-closed', Buffer.from('{"a":'), [JSON_TYPE, 'Content-Length: 1000'], { options: { halfClose: true } });
    send('truncated, abandoned', Buffer.from('{"a":'), [JSON_TYPE, 'Content-Length: 1000'], { options: { abandonAfterMs: 20 } });
    send('Content-Length and chunked', Buffer.from('2\r\n{}\r\n0\r\n\r\n'), [JSON_TYPE, 'Content-Length: 3', 'Transfer-Encoding: chunked'], { expect: [400] });
    send('content-type text/plain', Buffer.from(JSON.stringify(operation.json?.example ?? {})), ['Content-Type: text/plain']);
    if (operation.sse && !hasBody) {
      // The stream starts before the (ignored) body is complete; the client then stops: the stream must end cleanly.
      send('SSE, then its body cut short', Buffer.from('{"a":'), [JSON_TYPE, 'Content-Length: 1000'], { options: { sseThenHalfCloseMs: 200 } });
    }
    if (hasBody) {
      send('huge json array', hugeArray, [JSON_TYPE], { expect: [413] });
      // Unknown fields are ignored, so a deep object is a valid body where every field is optional.
      send('10 000 nested objects', deepObjects, [JSON_TYPE]);
      send('declared 1 GB', Buffer.from('{}'), [JSON_TYPE, 'Content-Length: 1073741824'], { options: { halfClose: true } });
      send('Content-Length: abc', Buffer.from('{}'), [JSON_TYPE, 'Content-Length: abc'], { expect: [400] });
      send('bad chunk size', Buffer.from('zz\r\n{}\r\n0\r\n\r\n'), [JSON_TYPE, 'Transfer-Encoding: chunked'], { expect: [400] });
      for (const type of ['application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data', `multipart/form-data; boundary=${BOUNDARY}`, 'application/json; charset=utf-16', 'application/jsonx', `application/json; p=${'x'.repeat(5000)}`]) {
        send(`content-type ${type.slice(0, 60)}`, Buffer.from(JSON.stringify(operation.json?.example ?? {})), [`Content-Type: ${type}`]);
      }
      send('no content-type', Buffer.from(JSON.stringify(operation.json?.example ?? {})), []);
    }

    if (operation.json) {
      const example = operation.json.example;
      for (const field of operation.json.fields) {
        for (const [typeName, value] of SWAPS) send(`${field}=${typeName}`, Buffer.from(JSON.stringify({ ...example, [field]: value })));
        send(`${field}=${DEPTH} nested arrays`, Buffer.from(`{"${field}":${'['.repeat(DEPTH)}${']'.repeat(DEPTH)}}`));
        send(`${field}=NUL`, Buffer.from(JSON.stringify({ ...example, [field]: 'a\u0000b' })), [JSON_TYPE], { expect: [400] });
        // Invalid UTF-8: 0xff 0xfe, an overlong NUL, an encoded surrogate.
        send(`${field}=invalid utf-8`, Buffer.concat([Buffer.from(`{"${field}":"a`), Buffer.from([0xff, 0xfe, 0xc0, 0x80, 0xed, 0xa0, 0x80]), Buffer.from('"}')]));
        send(`${field}=lone surrogate`, Buffer.from(`{"${field}":"\\ud800"}`));
        send(`${field}=raw NUL byte`, Buffer.concat([Buffer.from(`{"${field}":"a`), Buffer.from([0]), Buffer.from('"}')]), [JSON_TYPE], { expect: [400] });
        send(`${field}=200 000 chars`, Buffer.from(JSON.stringify({ ...example, [field]: 'y'.repeat(200_000) })), [JSON_TYPE], { expect: [400] });
      }
      for (const [typeName, value] of SWAPS) send(`body=${typeName}`, Buffer.from(JSON.stringify(value)));
      send('__proto__ key', Buffer.from(`{"__proto__":{"polluted":1},${JSON.stringify(example).slice(1)}`));
      send('constructor.prototype', Buffer.from(`{"constructor":{"prototype":{"polluted":1}}}`));
      send('NUL in a key', Buffer.from(JSON.stringify({ ...example, 'k\u0000': 1 })), [JSON_TYPE], { expect: [400] });
      send('BOM', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(example))]));
    }
    if (operation.multipart) {
      const multipartType = `Content-Type: multipart/form-data; boundary=${BOUNDARY}`;
      send('file over upload_max_bytes', multipartFile(fixtures.uploadMaxBytes + 1024), [multipartType], { expect: [413] });
      send('multipart without a closing boundary', multipartFile(16).subarray(0, 120), [multipartType]);
      send('multipart garbage', Buffer.from('not multipart at all'), [multipartType]);
      send('multipart without boundary', multipartFile(16), ['Content-Type: multipart/form-data']);
      send('multipart, wrong field', Buffer.from(multipartFile(16).toString().replace('name="file"', 'name="other"')), [multipartType]);
      send('multipart, truncated and half-closed', multipartFile(16).subarray(0, 100), [multipartType, 'Content-Length: 5000'], { options: { halfClose: true } });
    }

    // Headers, query strings and methods.
    // The body is beside the point here: `{}` keeps password hashing (register, login) out of these cases.
    const headerStageBody = operation.json ? Buffer.from('{}') : goodBody;
    const withHeaders = (label: string, headers: string[], query = '', extra: Partial<Case> = {}) =>
      add(label, wire({ method: operation.method, target: ownTarget(query), headers: [valid, ...bodyHeaders, ...headers], body: headerStageBody }), extra);
    withHeaders('17 KB header', [`X-Big: ${'b'.repeat(17_000)}`], '', { expect: [431] });
    withHeaders('X-Request-Id of 10 KB, with spaces', [`X-Request-Id: a b <c>${'r'.repeat(10_000)}`]);
    const requestId = `robustness-${++requestCounter}`;
    withHeaders('X-Request-Id echoed', [`X-Request-Id: ${requestId}`], '', { requestId });
    withHeaders('Last-Event-ID: -1', ['Last-Event-ID: -1']);
    withHeaders('header with raw 0xff', [`X-Junk: a${String.fromCharCode(0xff)}b`]);
    withHeaders('header with NUL', ['X-Junk: a\u0000b'], '', { expect: [400] });
    for (const [label, query] of [
      ['query %zz', '?limit=%zz'],
      ['query %00', '?workspace_id=%00&before=%00'],
      ['query %ff%fe', '?workspace_id=%ff%fe'],
      ['query wrong types', '?limit=abc&offset=-1&include_details=maybe&status=nope'],
      ['query arrays', '?limit=1&limit=2&workspace_id[]=x&a[b][c]=d'],
      ['query ticket', '?ticket=forged&last_event_id=abc'],
      ['query of 8 KB', `?workspace_id=${'q'.repeat(8_000)}`],
    ] as const) {
      withHeaders(label, [], query);
    }
    add('raw bytes in query', wire({ method: operation.method, target: Buffer.concat([ownTarget(), Buffer.from('?q='), Buffer.from([0xff, 0xfe, 0x80])]), headers: [valid, ...bodyHeaders], body: headerStageBody }));
    const unrouted = ['PUT', 'PATCH', 'DELETE', 'POST', 'GET'].find((method) => !operations.some((other) => other.path === operation.path && other.method === method));
    if (unrouted) add(`unrouted method ${unrouted}`, wire({ method: unrouted, target: ownTarget(), headers: [valid, JSON_TYPE], body: Buffer.from('{}') }), { expect: [404] });
    // With CORS off, OPTIONS names no route: 404 with or without a token.
    add('OPTIONS', wire({ method: 'OPTIONS', target: ownTarget(), headers: [valid] }), { expect: [404] });
    add('OPTIONS without token', wire({ method: 'OPTIONS', target: ownTarget() }), { expect: [404] });
  }
  return cases;
}

/** Requests naming no route at all, on each surface. */
export function unknownRouteCases(token: string): Case[] {
  const cases: Case[] = [];
  for (const [surface, path] of [
    ['tokendance', '/api/v1/nope'],
    ['tokendance', '/api/v1/sessions/x/y/z'],
    ['tokendance', '/api/v1/%ff%zz'],
    ['service', '/api/nope'],
    ['service', '/api/tasks/x/y'],
    ['service', '/api/%ff%zz'],
  ] as const) {
    for (const headers of [[], [`Authorization: Bearer ${token}`], ['Authorization: Bearer garbage']]) {
      const expect = path.includes('%') ? [400] : [404];
      cases.push({ label: `GET ${path} (${headers.length ? 'token' : 'no token'})`, surface, request: wire({ method: 'GET', target: Buffer.from(path), headers }), expect, destructive: false });
    }
  }
  return cases;
}

/** For a server with `server.cors_origins = [allowedOrigin]`: preflights and cross-origin requests on every route. */
export function corsCases(operations: Operation[], token: string, allowedOrigin: string): Case[] {
  const cases: Case[] = [];
  for (const operation of operations) {
    const path = target(operation.path, randomUUID());
    const add = (label: string, request: Buffer, extra: Partial<Case> = {}) =>
      cases.push({ label: `${operation.method} ${operation.path} ${label}`, surface: operation.surface, request, destructive: false, ...extra });
    const preflight = (origin: string, method = operation.method) => [`Origin: ${origin}`, `Access-Control-Request-Method: ${method}`, 'Access-Control-Request-Headers: authorization, content-type'];
    add('preflight', wire({ method: 'OPTIONS', target: path, headers: preflight(allowedOrigin) }), { expect: [204], expectHeaders: { 'access-control-allow-origin': allowedOrigin } });
    add('preflight, other origin', wire({ method: 'OPTIONS', target: path, headers: preflight('http://evil.example') }));
    add('OPTIONS without Origin', wire({ method: 'OPTIONS', target: path }));
    add('other origin', wire({ method: operation.method, target: path, headers: ['Origin: http://evil.example', `Authorization: Bearer ${token}`, ...(operation.json ? [JSON_TYPE] : [])], body: operation.json ? Buffer.from('{') : undefined }));
  }
  return cases;
}
