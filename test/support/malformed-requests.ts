import { randomUUID } from 'node:crypto';
import type { ExchangeOptions } from './raw-exchange.js';

/**
 * Malformed requests for every operation of an OpenAPI document, so routes added later are
 * covered without touching the robustness test. Each case is raw bytes (fetch would refuse or
 * repair most of them) plus what the answer must be beyond the universal rules (no 5xx, the
 * surface's error body, X-Request-Id).
 */

export type Surface = 'v1' | 'service';
export type Kind = 'workspace' | 'session' | 'approval' | 'task' | 'artifact';

export interface Operation {
  method: string;
  /** The OpenAPI path, `{id}` included. */
  path: string;
  surface: Surface;
  /** Needs a token (or, on the Service API, local mode); a refused token must be a 401. */
  secured: boolean;
  kind?: Kind;
  json?: { fields: string[]; example: Record<string, unknown> };
  multipart: boolean;
}

export interface Case {
  label: string;
  surface: Surface;
  request: Buffer;
  options?: ExchangeOptions;
  /** Allowed statuses, when the input decides them. */
  expect?: number[];
  /** Echoed X-Request-Id expected. */
  requestId?: string;
  /** Runs after everything else: it may delete the caller's resources or revoke its token. */
  destructive: boolean;
}

export interface Fixtures {
  own: Record<Kind, string>;
  other: Record<Kind, string>;
  tokens: { valid: string; expired: string; forged: string; algNone: string };
  bodyMaxBytes: number;
  uploadMaxBytes: number;
}

type Json = Record<string, any>;

const KIND_OF_SEGMENT: Record<string, Kind> = {
  workspaces: 'workspace',
  sessions: 'session',
  chat: 'session',
  hitl: 'approval',
  approvals: 'approval',
  tasks: 'task',
  artifacts: 'artifact',
};

export function operationsOf(document: Json): Operation[] {
  const operations: Operation[] = [];
  for (const [path, item] of Object.entries<Json>(document.paths)) {
    for (const [method, operation] of Object.entries<Json>(item)) {
      const surface: Surface = path.startsWith('/api/v1/') ? 'v1' : 'service';
      const segment = /\/([^/]+)\/\{id\}/.exec(path)?.[1];
      const content = operation.requestBody?.content ?? {};
      const jsonContent = content['application/json'];
      operations.push({
        method: method.toUpperCase(),
        path,
        surface,
        secured: (operation.security ?? []).length > 0,
        // A route added under a new noun still gets a real id of the caller's: its session.
        kind: path.includes('{id}') ? (KIND_OF_SEGMENT[segment ?? ''] ?? 'session') : undefined,
        json: jsonContent ? { fields: fieldsOf(jsonContent.schema, document), example: { ...(jsonContent.example ?? {}) } } : undefined,
        multipart: 'multipart/form-data' in content,
      });
    }
  }
  return operations;
}

function fieldsOf(schema: Json | undefined, document: Json): string[] {
  const resolved = resolve(schema, document);
  if (!resolved) return [];
  if (resolved.properties) return Object.keys(resolved.properties);
  for (const option of [...(resolved.anyOf ?? []), ...(resolved.oneOf ?? [])]) {
    const fields = fieldsOf(option, document);
    if (fields.length > 0) return fields;
  }
  return [];
}

function resolve(schema: Json | undefined, document: Json): Json | undefined {
  if (!schema?.$ref) return schema;
  const name = String(schema.$ref).split('/').pop()!;
  return resolve(document.components?.schemas?.[name], document);
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
function idVariants(fixtures: Fixtures, kind: Kind): IdVariant[] {
  const own = fixtures.own[kind];
  return [
    { name: 'own', id: own, plausible: true },
    { name: 'other user', id: fixtures.other[kind], withToken: [403, 404], plausible: true },
    { name: 'unknown uuid', id: randomUUID(), withToken: [404], plausible: true },
    { name: 'garbage', id: 'not-an-id', plausible: true },
    { name: 'number', id: '-1', plausible: true },
    { name: 'dot-dot', id: '..' },
    { name: 'encoded dot-dot', id: '%2e%2e' },
    { name: 'id of 201', id: 'a'.repeat(201), withToken: [400] },
    { name: 'id of 5000', id: 'a'.repeat(5000), router: [414] },
    { name: '%00', id: '%00', withToken: [400] },
    { name: 'own+%00', id: `${own}%00`, withToken: [400] },
    { name: '%ff%fe', id: '%ff%fe', router: [400] },
    { name: '%zz', id: '%zz', router: [400] },
    { name: 'lone %', id: '%', router: [400] },
    { name: 'truncated utf-8', id: '%E2%82', router: [400] },
    { name: 'encoded junk', id: encodeURIComponent("😀\u202e<script>' OR 1=1--") },
    { name: 'raw 0xff 0xfe', id: Buffer.from([0xff, 0xfe]) },
    { name: 'raw NUL', id: Buffer.from([0x61, 0x00, 0x62]), router: [400] },
  ];
}

function target(path: string, id: string | Buffer, query = ''): Buffer {
  const [before, after = ''] = path.split('{id}');
  return Buffer.concat([Buffer.from(before!), Buffer.isBuffer(id) ? id : Buffer.from(id), Buffer.from(after), Buffer.from(query)]);
}

interface Wire {
  method: string;
  target: Buffer;
  headers?: string[];
  body?: Buffer;
  /** Content-Length is computed from the body unless a header names it. */
}

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
    const destructive = operation.method === 'DELETE' || operation.path.endsWith('/auth/logout');
    const ownId = operation.kind ? fixtures.own[operation.kind] : '';
    const ownTarget = (query = '') => target(operation.path, ownId, query);
    const add = (label: string, request: Buffer, extra: Partial<Case> = {}) =>
      cases.push({ label: `${operation.method} ${operation.path} ${label}`, surface: operation.surface, request, destructive, ...extra });
    const { headers: bodyHeaders, body: goodBody } = validBody(operation);
    const unauthorized = operation.secured ? [401] : undefined;

    // Path parameters, with and without a token.
    const ids: IdVariant[] = operation.kind ? idVariants(fixtures, operation.kind) : [{ name: '-', id: '', plausible: true }];
    for (const { name, id, router, withToken, plausible } of ids) {
      const path = target(operation.path, id);
      add(`id=${name} token=valid`, wire({ method: operation.method, target: path, headers: [valid, ...bodyHeaders], body: goodBody }), { expect: router ?? withToken });
      const anonymous = router ?? (plausible && operation.surface === 'v1' ? unauthorized : undefined);
      add(`id=${name} token=none`, wire({ method: operation.method, target: path, headers: bodyHeaders, body: goodBody }), { expect: anonymous });
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
    for (const [name, header] of refused) {
      add(`token=${name}`, wire({ method: operation.method, target: ownTarget(), headers: [header, ...bodyHeaders], body: goodBody }), {
        expect: name === 'token twice' ? undefined : unauthorized,
      });
    }

    // Bodies (a valid token and the caller's own id, so only the body is wrong).
    const send = (label: string, body: Buffer, headers: string[] = [JSON_TYPE], extra: Partial<Case> = {}) =>
      add(label, wire({ method: operation.method, target: ownTarget(), headers: [valid, ...headers], body }), extra);
    const isBodyRoute = operation.json !== undefined;
    const badJsonExpect = isBodyRoute ? [400] : undefined;
    for (const text of operation.json ? BAD_JSON : BAD_JSON.slice(0, 2)) send(`bad json ${JSON.stringify(text)}`, Buffer.from(text), [JSON_TYPE], { expect: badJsonExpect });
    send('huge json string', hugeString, [JSON_TYPE], { expect: [413] });
    send('huge json array', hugeArray, [JSON_TYPE], { expect: [413] });
    send('10 000 nested arrays', deepArrays, [JSON_TYPE], { expect: badJsonExpect });
    send('10 000 nested objects', deepObjects, [JSON_TYPE], { expect: badJsonExpect });
    send('declared 1 GB', Buffer.from('{}'), [JSON_TYPE, 'Content-Length: 1073741824'], { options: { halfClose: true } });
    send('truncated, half-closed', Buffer.from('{"a":'), [JSON_TYPE, 'Content-Length: 1000'], { options: { halfClose: true } });
    send('truncated, abandoned', Buffer.from('{"a":'), [JSON_TYPE, 'Content-Length: 1000'], { options: { abandonAfterMs: 20 } });
    send('Content-Length: abc', Buffer.from('{}'), [JSON_TYPE, 'Content-Length: abc'], { expect: [400] });
    send('Content-Length and chunked', Buffer.from('2\r\n{}\r\n0\r\n\r\n'), [JSON_TYPE, 'Content-Length: 3', 'Transfer-Encoding: chunked'], { expect: [400] });
    send('bad chunk size', Buffer.from('zz\r\n{}\r\n0\r\n\r\n'), [JSON_TYPE, 'Transfer-Encoding: chunked'], { expect: [400] });
    for (const type of ['text/plain', 'application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data', `multipart/form-data; boundary=${BOUNDARY}`, 'application/json; charset=utf-16', 'application/jsonx', `application/json; p=${'x'.repeat(5000)}`]) {
      send(`content-type ${type.slice(0, 60)}`, Buffer.from(JSON.stringify(operation.json?.example ?? {})), [`Content-Type: ${type}`]);
    }
    send('no content-type', Buffer.from(JSON.stringify(operation.json?.example ?? {})), []);

    if (operation.json) {
      const example = operation.json.example;
      for (const field of operation.json.fields) {
        for (const [typeName, value] of SWAPS) send(`${field}=${typeName}`, Buffer.from(JSON.stringify({ ...example, [field]: value })));
        send(`${field}=${DEPTH} nested arrays`, Buffer.from(`{"${field}":${'['.repeat(DEPTH)}${']'.repeat(DEPTH)}}`));
        send(`${field}=NUL`, Buffer.from(JSON.stringify({ ...example, [field]: 'a\u0000b' })), [JSON_TYPE], { expect: [400] });
        send(`${field}=raw 0xff 0xfe`, Buffer.concat([Buffer.from(`{"${field}":"a`), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]));
        send(`${field}=lone surrogate`, Buffer.from(`{"${field}":"\\ud800"}`));
        send(`${field}=raw NUL byte`, Buffer.concat([Buffer.from(`{"${field}":"a`), Buffer.from([0]), Buffer.from('"}')]), [JSON_TYPE], { expect: [400] });
        send(`${field}=overlong utf-8`, Buffer.concat([Buffer.from(`{"${field}":"`), Buffer.from([0xc0, 0x80, 0xed, 0xa0, 0x80]), Buffer.from('"}')]));
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
    const withHeaders = (label: string, headers: string[], query = '', extra: Partial<Case> = {}) =>
      add(label, wire({ method: operation.method, target: ownTarget(query), headers: [valid, ...bodyHeaders, ...headers], body: goodBody }), extra);
    withHeaders('17 KB header', [`X-Big: ${'b'.repeat(17_000)}`], '', { expect: [431] });
    withHeaders('X-Request-Id of 10 KB', [`X-Request-Id: ${'r'.repeat(10_000)}`]);
    const requestId = `robustness-${++requestCounter}`;
    withHeaders('X-Request-Id echoed', [`X-Request-Id: ${requestId}`], '', { requestId });
    withHeaders('X-Request-Id with spaces', ['X-Request-Id: a b <c>']);
    withHeaders('Last-Event-ID: -1', ['Last-Event-ID: -1']);
    withHeaders('Last-Event-ID: 1e400', ['Last-Event-ID: 1e400']);
    withHeaders('header with raw 0xff', [`X-Junk: a${String.fromCharCode(0xff)}b`]);
    withHeaders('header with NUL', ['X-Junk: a\u0000b'], '', { expect: [400] });
    for (const [label, query] of [
      ['query %zz', '?limit=%zz'],
      ['query %00', '?workspace_id=%00&before=%00'],
      ['query %ff%fe', '?workspace_id=%ff%fe'],
      ['query wrong types', '?limit=abc&offset=-1&include_details=maybe&status=nope'],
      ['query huge numbers', '?limit=1e400&offset=99999999999999999999999'],
      ['query arrays', '?limit=1&limit=2&workspace_id[]=x&a[b][c]=d'],
      ['query ticket', '?ticket=forged'],
      ['query last_event_id', '?last_event_id=abc'],
      ['query of 8 KB', `?workspace_id=${'q'.repeat(8_000)}`],
    ] as const) {
      withHeaders(label, [], query);
    }
    add('raw bytes in query', wire({ method: operation.method, target: Buffer.concat([ownTarget(), Buffer.from('?q='), Buffer.from([0xff, 0xfe, 0x80])]), headers: [valid, ...bodyHeaders], body: goodBody }));
    add('unknown method', wire({ method: 'PUT', target: ownTarget(), headers: [valid, JSON_TYPE], body: Buffer.from('{}') }), { expect: [404] });
    add('method OPTIONS', wire({ method: 'OPTIONS', target: ownTarget(), headers: [valid] }));
  }
  return cases;
}

/** Requests naming no route at all, on each surface. */
export function unknownRouteCases(token: string): Case[] {
  const cases: Case[] = [];
  for (const [surface, path] of [
    ['v1', '/api/v1/nope'],
    ['v1', '/api/v1/sessions/x/y/z'],
    ['v1', '/api/v1/%ff%zz'],
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
