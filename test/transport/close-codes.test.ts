import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import WebSocket from 'ws';
import { CloseCodes } from '../../actors/domain/errors.js';
import type { Transport, TransportLimit, TransportOptions, WsConnection, WsSession } from '../../actors/ports/transport.js';
import { UwsTransport } from '../../adapters/websocket/uws-transport.js';
import { WsTransport } from '../../adapters/websocket/ws-transport.js';

// A raw client (the `ws` package, no reconnect logic): it reports the code of the close frame
// it read, or 1006 when the connection ended without one (a reset or a bare FIN).

const MiB = 1024 * 1024;
const silent = pino({ level: 'silent' });
const ADAPTERS: Array<[string, (o: TransportOptions) => Transport]> = [
  ['uws', (o) => new UwsTransport(o, silent)],
  ['ws', (o) => new WsTransport(o, silent)],
];

type OnOpen = (conn: WsConnection) => void;

async function serve(make: (o: TransportOptions) => Transport, options: Partial<TransportOptions>, onOpen: OnOpen = () => undefined): Promise<{ transport: Transport; url: string; serverCodes: number[]; limits: TransportLimit[] }> {
  const transport = make({ maxBodyBytes: MiB, maxFrameBytes: 64 * 1024, pingIntervalSeconds: 30, pongTimeoutSeconds: 60, ...options });
  const serverCodes: number[] = [];
  const limits: TransportLimit[] = [];
  transport.onRequest(() => ({ status: 404 }));
  transport.websocket('/ws', {
    open: (conn): WsSession => {
      onOpen(conn);
      return { message: () => undefined, drain: () => undefined, limited: (code) => { limits.push(code); }, closed: (code) => { serverCodes.push(code); } };
    },
  });
  const port = await transport.listen('127.0.0.1', 0);
  return { transport, url: `ws://127.0.0.1:${port}/ws`, serverCodes, limits };
}

interface Closed {
  readonly code: number;
  readonly reason: string;
  readonly bytes: number;
}

async function rawClient(url: string, options: WebSocket.ClientOptions = {}): Promise<{ ws: WebSocket; closed: Promise<Closed> }> {
  const ws = new WebSocket(url, options);
  let bytes = 0;
  ws.on('message', (data: Buffer) => { bytes += data.length; });
  ws.on('error', () => undefined); // a reset shows up as close code 1006
  const closed = new Promise<Closed>((resolve) => ws.once('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString(), bytes })));
  await once(ws, 'open');
  return { ws, closed };
}

for (const [name, make] of ADAPTERS) {
  describe(`#7.12 close codes arrive as close frames: ${name}`, () => {
    const transports: Transport[] = [];
    after(async () => { for (const t of transports) await t.close(CloseCodes.SHUTTING_DOWN, 'test over'); });

    it('#7.12 a client frame over maxFrameBytes ends with close frame 1009', async () => {
      const server = await serve(make, {});
      transports.push(server.transport);
      const { ws, closed } = await rawClient(server.url);
      ws.send(Buffer.alloc(64 * 1024 + 1));
      const { code } = await closed;
      assert.equal(code, CloseCodes.MESSAGE_TOO_BIG);
      assert.equal(code, 1009);
      assert.deepEqual(server.limits, ['FRAME_TOO_LARGE'], 'the engine is told, to count it');
    });

    it('#7.12 a frame at the limit is delivered and keeps the connection open', async () => {
      const server = await serve(make, {});
      transports.push(server.transport);
      const { ws } = await rawClient(server.url);
      ws.send(Buffer.alloc(64 * 1024));
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(ws.readyState, WebSocket.OPEN);
      assert.deepEqual(server.serverCodes, []);
      ws.close();
    });

    it('#7.12 a slow client that resumes reading gets its 4408 close frame after the backlog, not a reset', async () => {
      const frame = Buffer.alloc(64 * 1024, 7);
      let closedAt = 0;
      // The paused reader answers no ping: the pong timeout is longer than its pause below.
      const server = await serve(make, { pingIntervalSeconds: 4, pongTimeoutSeconds: 8 }, (conn) => {
        const pump = (): void => {
          while (conn.bufferedAmount() < 4 * MiB) conn.send(frame);
          closedAt = Date.now();
          conn.close(CloseCodes.SLOW_CLIENT, 'SLOW_CLIENT');
        };
        setTimeout(pump, 50);
      });
      transports.push(server.transport);
      const { ws, closed } = await rawClient(server.url);
      const socket = (ws as unknown as { _socket: Socket })._socket;
      socket.pause();
      for (let i = 0; i < 500 && closedAt === 0; i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(closedAt > 0, 'the server decided to close the slow client');
      await new Promise((r) => setTimeout(r, 6000));
      socket.resume();
      const result = await closed;
      assert.deepEqual([result.code, result.reason], [CloseCodes.SLOW_CLIENT, 'SLOW_CLIENT']);
      assert.ok(result.bytes >= 4 * MiB, `the queued frames were delivered before the close frame (${result.bytes} bytes)`);
    });

    it('#9 the server pings every interval and closes a client that answers none of its pings (autoPong off) with 1001 and a reason', async () => {
      const server = await serve(make, { pingIntervalSeconds: 1, pongTimeoutSeconds: 2 });
      transports.push(server.transport);
      const { ws, closed } = await rawClient(server.url, { autoPong: false });
      let pings = 0;
      ws.on('ping', () => { pings++; });
      const result = await closed;
      assert.equal(result.code, CloseCodes.IDLE_TIMEOUT);
      assert.equal(result.code, 1001);
      assert.match(result.reason, /idle: no pong/);
      assert.ok(pings >= 1, `protocol-level pings reached the client (${pings})`);
      assert.deepEqual(server.limits, ['HEARTBEAT_TIMEOUT']);
    });

    it('#9 a client that answers pings by itself (the ws default) is never closed, though it sends no frame', async () => {
      const server = await serve(make, { pingIntervalSeconds: 1, pongTimeoutSeconds: 2 });
      transports.push(server.transport);
      const { ws } = await rawClient(server.url);
      let pings = 0;
      ws.on('ping', () => { pings++; });
      while (pings < 4) await new Promise((r) => setTimeout(r, 100));
      assert.equal(ws.readyState, WebSocket.OPEN);
      assert.deepEqual(server.serverCodes, []);
      assert.deepEqual(server.limits, []);
      ws.close();
    });

    it('#9 a client that answers no protocol ping but sends frames is alive: any frame is an answer', async () => {
      const server = await serve(make, { pingIntervalSeconds: 1, pongTimeoutSeconds: 2 });
      transports.push(server.transport);
      const { ws } = await rawClient(server.url, { autoPong: false });
      let pings = 0;
      ws.on('ping', () => {
        pings++;
        ws.send(Buffer.from('x'));
      });
      while (pings < 4) await new Promise((r) => setTimeout(r, 100));
      assert.equal(ws.readyState, WebSocket.OPEN);
      assert.deepEqual(server.limits, []);
      ws.close();
    });
  });
}
