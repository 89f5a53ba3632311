import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import WebSocket from 'ws';
import type { HttpRequest, HttpResponse, Transport, TransportOptions, WsConnection, WsSession, WsUpgrade } from '../../actors/ports/transport.js';
import { createTransport } from '../../adapters/websocket/select-transport.js';
import { loadNativeUws, UwsTransport } from '../../adapters/websocket/uws-transport.js';
import { WsTransport } from '../../adapters/websocket/ws-transport.js';

const MiB = 1024 * 1024;
const OPTIONS: TransportOptions = { maxBodyBytes: MiB, maxFrameBytes: 64 * 1024, pingIntervalSeconds: 15, pongTimeoutSeconds: 30 };
const silent = pino({ level: 'silent' });
const ADAPTERS: Array<[string, (o: TransportOptions) => Transport]> = [
  ['uws', (o) => new UwsTransport(o, silent)],
  ['ws', (o) => new WsTransport(o, silent)],
];
const INTERNAL = '{"error":{"code":"INTERNAL","message":"internal error"}}';

function route(req: HttpRequest): HttpResponse | Promise<HttpResponse> {
  switch (req.path) {
    case '/meta':
      return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({
        method: req.method, path: req.path, query: [...req.query], test: req.header('X-Test') ?? null, remote: req.remoteAddress, length: req.body.length,
      }) };
    case '/echo': return { status: 200, body: new Uint8Array(req.body) };
    case '/text': return { status: 201, headers: { 'X-Custom': 'yes' }, body: 'héllo' };
    case '/typed': return { status: 200, headers: { 'content-type': 'application/json' }, body: '{}' };
    case '/empty': return { status: 204 };
    case '/throw': throw new Error('boom');
    case '/reject': return Promise.reject(new Error('boom'));
    case '/bad-header': return { status: 200, headers: { 'x-bad': 'a\r\nInjected: 1' }, body: 'x' };
    default: return { status: 404, body: 'no route' };
  }
}

/** One transport on 127.0.0.1:0 whose WebSocket sessions echo binary frames and tag text frames. */
class Server {
  readonly requests: HttpRequest[] = [];
  readonly upgrades: WsUpgrade[] = [];
  readonly received: Array<{ size: number; isBinary: boolean }> = [];
  readonly closedCodes: number[] = [];
  readonly sendResults: boolean[] = [];
  readonly bufferedTypes: string[] = [];
  port = 0;

  constructor(readonly transport: Transport) {
    transport.onRequest((req) => { this.requests.push(req); return route(req); });
    transport.websocket('/ws', { open: (conn, upgrade) => this.open(conn, upgrade) });
  }

  async start(): Promise<this> {
    this.port = await this.transport.listen('127.0.0.1', 0);
    return this;
  }

  url(path: string, scheme = 'http'): string {
    return `${scheme}://127.0.0.1:${this.port}${path}`;
  }

  private open(conn: WsConnection, upgrade: WsUpgrade): WsSession {
    this.upgrades.push(upgrade);
    this.bufferedTypes.push(typeof conn.bufferedAmount());
    return {
      message: (data, isBinary) => {
        this.received.push({ size: data.byteLength, isBinary });
        const reply = isBinary ? data : Buffer.concat([Buffer.from('text:'), data]);
        this.sendResults.push(conn.send(reply));
      },
      drain: () => undefined,
      closed: (code) => { this.closedCodes.push(code); },
    };
  }
}

async function connect(url: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  const ws = new WebSocket(url, { headers });
  await once(ws, 'open');
  return ws;
}

/** Not events.once: that rejects on an 'error' emitted first, and a refused handshake emits one. */
function closeOf(ws: WebSocket): Promise<[number, Buffer]> {
  return new Promise((resolve) => ws.once('close', (code: number, reason: Buffer) => resolve([code, reason])));
}

async function roundTrip(ws: WebSocket, data: Buffer | string): Promise<{ data: Buffer; isBinary: boolean }> {
  const reply = once(ws, 'message');
  ws.send(data);
  const [payload, isBinary] = (await reply) as [Buffer, boolean];
  return { data: payload, isBinary };
}

async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(check(), `timed out waiting for ${what}`);
}

function chunkedBody(total: number, chunk: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= total) return controller.close();
      sent += chunk;
      controller.enqueue(new Uint8Array(chunk));
    },
  });
}

for (const [name, make] of ADAPTERS) {
  describe(`transport conformance: ${name}`, () => {
    let server: Server;
    const clients: WebSocket[] = [];
    before(async () => { server = await new Server(make(OPTIONS)).start(); });
    after(async () => {
      for (const c of clients) c.terminate();
      await server.transport.close(1001, 'test over');
    });

    it(`has kind '${name}'${name === 'uws' ? ' and runs on the native binary' : ''}`, () => {
      assert.equal(server.transport.kind, name);
      if (name === 'uws') assert.deepEqual(loadNativeUws().ok, true, 'Node 20 on linux x64 must load the native uWebSockets.js binary');
    });

    it('delivers method, path, query, headers and remote address of a GET', async () => {
      const res = await fetch(server.url('/meta?a=1&b=x%20y&a=2'), { headers: { 'X-Test': 'hello' } });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), {
        method: 'GET', path: '/meta', query: [['a', '1'], ['b', 'x y'], ['a', '2']], test: 'hello', remote: '127.0.0.1', length: 0,
      });
    });

    it('delivers a 1 MiB binary POST body intact', async () => {
      const body = randomBytes(MiB);
      const res = await fetch(server.url('/echo'), { method: 'POST', body });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'application/octet-stream');
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(body));
    });

    it('answers 413 to a body over the limit (declared or streamed) without calling the handler', async () => {
      const declared = await fetch(server.url('/too-big'), { method: 'POST', body: new Uint8Array(MiB + 1) });
      assert.equal(declared.status, 413);
      assert.equal((await declared.json() as { error: { code: string } }).error.code, 'BODY_TOO_LARGE');
      const init = { method: 'POST', body: chunkedBody(2 * MiB, 64 * 1024), duplex: 'half' } as RequestInit;
      const streamed = await fetch(server.url('/too-big-streamed'), init);
      assert.equal(streamed.status, 413);
      await streamed.arrayBuffer();
      assert.equal(server.requests.filter((r) => r.path.startsWith('/too-big')).length, 0);
    });

    it('answers 500 when a handler throws or rejects, and keeps serving', async () => {
      for (const path of ['/throw', '/reject', '/bad-header']) {
        const res = await fetch(server.url(path));
        assert.equal(res.status, 500, path);
        assert.equal(res.headers.get('content-type'), 'application/json');
        assert.equal(await res.text(), INTERNAL);
      }
      assert.equal((await fetch(server.url('/meta'))).status, 200);
    });

    it('writes status, headers and default content types', async () => {
      const text = await fetch(server.url('/text'));
      assert.equal(text.status, 201);
      assert.equal(text.headers.get('x-custom'), 'yes');
      assert.equal(text.headers.get('content-type'), 'text/plain; charset=utf-8');
      assert.equal(text.headers.get('content-length'), '6');
      assert.equal(await text.text(), 'héllo');
      const typed = await fetch(server.url('/typed'));
      assert.equal(typed.headers.get('content-type'), 'application/json');
      assert.equal(await typed.text(), '{}');
      const head = await fetch(server.url('/text'), { method: 'HEAD' });
      assert.equal(head.headers.get('content-length'), '6');
      assert.equal(await head.text(), '');
      const empty = await fetch(server.url('/empty'));
      assert.equal(empty.status, 204);
      assert.equal(empty.headers.get('content-length'), null);
    });

    it('serves a plain GET on the WebSocket path as HTTP', async () => {
      const res = await fetch(server.url('/ws?plain=1'));
      assert.equal(res.status, 404);
      assert.equal(await res.text(), 'no route');
      assert.ok(server.requests.some((r) => r.path === '/ws' && r.query.get('plain') === '1'));
    });

    it('round-trips binary frames and delivers text frames with isBinary false', async () => {
      const ws = await connect(server.url('/ws?token=abc', 'ws'), { 'X-Client': 't1' });
      clients.push(ws);
      const upgrade = server.upgrades.at(-1);
      assert.equal(upgrade?.path, '/ws');
      assert.equal(upgrade?.query.get('token'), 'abc');
      assert.equal(upgrade?.header('x-client'), 't1');
      assert.equal(upgrade?.remoteAddress, '127.0.0.1');
      assert.deepEqual(server.bufferedTypes, ['number']);

      const frame = randomBytes(32 * 1024);
      const binary = await roundTrip(ws, frame);
      assert.equal(binary.isBinary, true);
      assert.ok(binary.data.equals(frame));
      const text = await roundTrip(ws, 'héllo');
      assert.equal(text.data.toString(), 'text:héllo');
      assert.deepEqual(server.received.slice(-2), [{ size: frame.length, isBinary: true }, { size: 6, isBinary: false }]);
      assert.deepEqual(server.sendResults, [true, true]);
    });

    it('refuses an upgrade on another path with 404', async () => {
      const ws = new WebSocket(server.url('/elsewhere', 'ws'));
      const closed = closeOf(ws);
      const [err] = (await once(ws, 'error')) as [Error];
      assert.match(err.message, /Unexpected server response: 404/);
      await closed;
    });

    it('closes a connection that sends a frame over maxFrameBytes', async () => {
      const ws = await connect(server.url('/ws', 'ws'));
      ws.on('error', () => undefined);
      const before = server.closedCodes.length;
      const closed = closeOf(ws);
      ws.send(Buffer.alloc(OPTIONS.maxFrameBytes + 1));
      const [code] = await closed;
      assert.equal(code, 1009);
      await until('the server session to be closed', () => server.closedCodes.length > before);
      assert.ok(server.received.every((m) => m.size <= OPTIONS.maxFrameBytes));
    });

    it('close(4503) delivers 4503 to clients and stops listening', async () => {
      const own = await new Server(make(OPTIONS)).start();
      const ws = await connect(own.url('/ws', 'ws'));
      const closed = closeOf(ws);
      await own.transport.close(4503, 'shutting down');
      const [code, reason] = await closed;
      assert.equal(code, 4503);
      assert.equal(reason.toString(), 'shutting down');
      await until('the server session to see the close', () => own.closedCodes.length === 1);
      await assert.rejects(fetch(own.url('/meta')));
    });
  });
}

describe('both adapters answer identically for the same HttpResponse', () => {
  const servers: Server[] = [];
  before(async () => { for (const [, make] of ADAPTERS) servers.push(await new Server(make(OPTIONS)).start()); });
  after(async () => { for (const s of servers) await s.transport.close(1001, 'test over'); });

  it('matches status, headers and body on every route', async () => {
    const serverOwned = new Set(['date', 'connection', 'keep-alive', 'uwebsockets']);
    for (const path of ['/meta?x=1', '/text', '/typed', '/empty', '/throw', '/bad-header', '/nowhere']) {
      const [a, b] = await Promise.all(servers.map(async (s) => {
        const res = await fetch(s.url(path));
        const headers = [...res.headers].filter(([k]) => !serverOwned.has(k));
        return { status: res.status, headers, body: await res.text() };
      }));
      assert.deepEqual(a, b, path);
    }
  });
});

describe('createTransport', () => {
  const failing = () => ({ ok: false as const, error: 'invalid ELF header' });

  it('picks uWS for auto when the binary loads, ws when asked', () => {
    assert.equal(createTransport('auto', OPTIONS, silent).kind, 'uws');
    assert.equal(createTransport('uws', OPTIONS, silent).kind, 'uws');
    assert.equal(createTransport('ws', OPTIONS, silent).kind, 'ws');
  });

  it('falls back to ws with one WARN line when auto cannot load the binary', () => {
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => { lines.push(line); } });
    assert.equal(createTransport('auto', OPTIONS, log, failing).kind, 'ws');
    assert.equal(lines.length, 1);
    const entry = JSON.parse(lines[0]) as { level: number; msg: string };
    assert.equal(entry.level, 40);
    assert.match(entry.msg, /native uWebSockets\.js binary did not load.*invalid ELF header.*portable ws transport.*lower throughput/);
  });

  it('throws when uws is required and the binary does not load', () => {
    assert.throws(() => createTransport('uws', OPTIONS, silent, failing), /native uWebSockets\.js binary did not load.*invalid ELF header/);
  });
});
