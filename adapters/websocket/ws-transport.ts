import { createServer, STATUS_CODES } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type {
  Transport, WsConnection, WsHandlers, WsSession, WsUpgrade,
} from '../../actors/ports/transport.js';
import { CloseCodes } from '../../actors/domain/errors.js';
import {
  CLOSE_GRACE_MS, EMPTY, Heartbeat, IDLE_REASON, MAX_TARGET_BYTES, RoutedTransport, bodiless, closeReason, guard, headerLookup, openSession,
  rawErrorResponse, runHandler, textAddress, tooLarge, uriTooLong,
  type HeartbeatLink, type WireResponse,
} from './http-wire.js';
import { NodeHttpStream } from './node-http-stream.js';

const UPGRADE_NOT_FOUND = 'HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n';

function splitUrl(url: string): { path: string; rawQuery: string } {
  const q = url.indexOf('?');
  return q < 0 ? { path: url, rawQuery: '' } : { path: url.slice(0, q), rawQuery: url.slice(q + 1) };
}

interface Link extends HeartbeatLink {
  readonly ws: WebSocket;
  readonly conn: WsConnection;
  session?: WsSession;
}


export class WsTransport extends RoutedTransport implements Transport {
  readonly kind = 'ws' as const;
  private server?: Server;
  private wss?: WebSocketServer;
  private heartbeat?: Heartbeat;
  private readonly links = new Set<Link>();
  private readonly streams = new Set<NodeHttpStream>();

  listen(host: string, port: number): Promise<number> {
    // Room for a MAX_TARGET_BYTES target plus ordinary headers, so that the 414 is ours.
    const server = createServer({ maxHeaderSize: 2 * MAX_TARGET_BYTES }, (req, res) => this.onHttp(req, res));
    server.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Duplex) => onClientError(err, socket));
    this.wss = new WebSocketServer({ noServer: true, maxPayload: this.options.maxFrameBytes, perMessageDeflate: false, clientTracking: false });
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
    this.server = server;
    this.heartbeat = new Heartbeat(this.options, () => this.links);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
  }

  async close(code: number, reason: string): Promise<void> {
    this.heartbeat?.stop();
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const link of [...this.links]) link.conn.close(code, reason);
    for (const stream of [...this.streams]) stream.stop(code, reason, this.log);
    server.closeAllConnections();
    const force = setTimeout(() => { for (const link of this.links) link.ws.terminate(); }, CLOSE_GRACE_MS);
    await closed;
    clearTimeout(force);
  }

  private onHttp(req: IncomingMessage, res: ServerResponse): void {
    const method = req.method ?? 'GET';
    const { path, rawQuery } = splitUrl(req.url ?? '/');
    const base = { method, path, query: new URLSearchParams(rawQuery), header: headerLookup(rawPairs(req)), remoteAddress: textAddress(req.socket.remoteAddress ?? '') };
    const max = this.options.maxBodyBytes;
    req.on('error', () => { /* client went away mid-body; there is nobody to answer */ });
    if ((req.url ?? '').length > MAX_TARGET_BYTES) {
      this.write(res, method, uriTooLong(), true);
      return;
    }
    if (Number(req.headers['content-length'] ?? 0) > max) {
      this.write(res, method, tooLarge(max), true);
      return;
    }
    const chunks: Buffer[] = [];
    let total = 0;
    let refused = false;
    req.on('data', (chunk: Buffer) => {
      if (refused) return;
      total += chunk.length;
      if (total > max) {
        refused = true;
        chunks.length = 0;
        this.write(res, method, tooLarge(max), true);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (refused) return;
      const body = chunks.length === 1 ? chunks[0] : chunks.length === 0 ? EMPTY : Buffer.concat(chunks, total);
      void runHandler(this.handler, { ...base, body }, this.log).then((wire) => {
        if (wire.stream && method !== 'HEAD') this.stream(res, base.remoteAddress, wire);
        else this.write(res, method, wire, false);
      });
    });
  }

  private write(res: ServerResponse, method: string, wire: WireResponse, closeConnection: boolean): void {
    if (res.headersSent || res.destroyed) return;
    for (const [name, value] of wire.headers) res.setHeader(name, value);
    if (closeConnection) res.setHeader('connection', 'close');
    const noBody = bodiless(method, wire.status);
    if (noBody !== 'none') res.setHeader('content-length', String(wire.body.length));
    res.writeHead(wire.status, STATUS_CODES[wire.status] ?? 'Unknown');
    res.end(noBody ? undefined : wire.body);
  }

  private stream(res: ServerResponse, remoteAddress: string, wire: WireResponse): void {
    if (res.headersSent || res.destroyed) return;
    const stream = new NodeHttpStream(res, remoteAddress, this.maxBackpressureBytes);
    this.streams.add(stream);
    stream.start(wire, this.log, () => this.streams.delete(stream));
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => { /* reset during the handshake; ws takes over errors once upgraded */ });
    const { path, rawQuery } = splitUrl(req.url ?? '/');
    const handlers = this.wsHandlers;
    const wss = this.wss;
    if (!handlers || !wss || path !== this.wsPath) {
      socket.end(UPGRADE_NOT_FOUND);
      return;
    }
    const upgrade: WsUpgrade = { path, query: new URLSearchParams(rawQuery), header: headerLookup(rawPairs(req)), remoteAddress: textAddress(req.socket.remoteAddress ?? '') };
    wss.handleUpgrade(req, socket, head, (ws) => this.onOpen(ws, socket, upgrade, handlers));
  }

  private onOpen(ws: WebSocket, socket: Duplex, upgrade: WsUpgrade, handlers: WsHandlers): void {
    const log = this.log;
    const limit = this.maxBackpressureBytes;
    const conn: WsConnection = {
      remoteAddress: upgrade.remoteAddress,
      send(frame) {
        if (ws.readyState !== WebSocket.OPEN || ws.bufferedAmount > limit) return false;
        // ws queues `frame` itself (no copy) when the kernel cannot take it all at once.
        ws.send(frame, { binary: true });
        // Any write over 16 KiB sets writableNeedDrain even when the kernel took it all; false must mean a drain() follows.
        return socket.writableLength === 0 || !socket.writableNeedDrain;
      },
      bufferedAmount: () => ws.bufferedAmount,
      close(code, reason) {
        try {
          ws.close(code, closeReason(reason));
        } catch (err) {
          log?.warn({ err, code }, 'invalid WebSocket close code; terminating instead');
          ws.terminate();
        }
      },
    };
    const link: Link = {
      ws, conn, unansweredSince: 0, nextPingAt: 0,
      get closing() { return ws.readyState !== WebSocket.OPEN; },
      ping: () => ws.ping(),
      // ws sends the close frame behind unsent data and cuts the socket 30 s later if unanswered.
      idle: () => {
        guard(log, 'limited', () => link.session?.limited?.('HEARTBEAT_TIMEOUT'));
        conn.close(CloseCodes.IDLE_TIMEOUT, IDLE_REASON);
      },
    };
    this.links.add(link);
    ws.on('error', (err: Error & { code?: string }) => {
      // ws itself closes a frame over maxPayload with 1009; the engine still counts it.
      if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') guard(log, 'limited', () => link.session?.limited?.('FRAME_TOO_LARGE'));
      else log?.debug({ err }, 'WebSocket protocol error');
    });
    ws.on('message', (data, isBinary) => {
      link.unansweredSince = 0;
      guard(log, 'message', () => link.session?.message(toBuffer(data), isBinary));
    });
    // A client's own ping proves it is there too (ws answers it with a pong by itself).
    for (const event of ['pong', 'ping'] as const) ws.on(event, () => { link.unansweredSince = 0; });
    // 'drain' only fires after a write returned false, which is exactly when send() returned false.
    socket.on('drain', () => guard(log, 'drain', () => link.session?.drain()));
    ws.on('close', (code) => {
      this.links.delete(link);
      guard(log, 'close', () => link.session?.closed(code));
    });
    link.session = openSession(handlers, conn, upgrade, log);
  }
}

/**
 * What node:http answers by default, except that a head too long because of its request
 * line gets 414 rather than 431. `rawPacket` is the chunk being parsed when the head
 * overflowed: no line end in it (or a late one) means the request line was still going.
 */
function onClientError(err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  let status: 400 | 408 | 414 | 431 = 400;
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') status = 408;
  else if (err.code === 'HPE_HEADER_OVERFLOW') {
    const eol = err.rawPacket?.indexOf('\r\n') ?? -1;
    status = eol < 0 || eol > MAX_TARGET_BYTES ? 414 : 431;
  }
  socket.end(rawErrorResponse(status));
}

function rawPairs(req: IncomingMessage): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) pairs.push([req.rawHeaders[i], req.rawHeaders[i + 1]]);
  return pairs;
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}
