import { createRequire } from 'node:module';
import path from 'node:path';
import type { Logger } from 'pino';
import type * as Uws from 'uWebSockets.js';
import type {
  HttpRequest, Transport, TransportOptions, WsConnection, WsHandlers, WsSession, WsUpgrade,
} from '../../actors/ports/transport.js';
import { CloseCodes } from '../../actors/domain/errors.js';
import {
  CLOSE_DRAIN_MS, CLOSE_GRACE_MS, EMPTY, Heartbeat, IDLE_REASON, MAX_TARGET_BYTES, RoutedTransport, bodiless, closeReason, guard, headerLookup,
  openSession, runHandler, textAddress, tooLarge, toWire, uriTooLong,
  type HeartbeatLink, type WireResponse,
} from './http-wire.js';
import { UwsHttpStream } from './uws-http-stream.js';

type UwsModule = typeof Uws;
export type NativeUws = { ok: true; uws: UwsModule } | { ok: false; error: string };

let loaded: NativeUws | undefined;

/** Loads the addon directly: the package's entry point silently swaps in a ws-based shim when it fails. */
export function loadNativeUws(): NativeUws {
  if (loaded) return loaded;
  try {
    const require = createRequire(import.meta.url);
    const dir = path.dirname(require.resolve('uWebSockets.js/package.json'));
    const file = path.join(dir, 'binaries', `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`);
    const uws = require(file) as UwsModule;
    if (typeof uws.App !== 'function') throw new Error(`${file} exports no App()`);
    loaded = { ok: true, uws };
  } catch (err) {
    loaded = { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
  return loaded;
}

/**
 * uWS cuts the TCP connection, with no close frame, for a frame over its maxPayloadLength.
 * It is set this many times above the configured limit, which the message handler enforces
 * with close code 1009; only frames beyond it (hostile, not mistaken) are cut. uWS buffers
 * a frame whole before delivering it, so the factor bounds the memory one frame may take.
 */
export const UWS_PAYLOAD_CEILING_FACTOR = 4;

interface ConnData {
  readonly upgrade: WsUpgrade;
  conn?: UwsConnection;
}

interface ResState {
  aborted: boolean;
  done: boolean;
  /** A streaming response hears of the abort here. */
  onAborted?: () => void;
}

const UPGRADE_NOT_FOUND = toWire({ status: 404 });

class UwsConnection implements WsConnection, HeartbeatLink {
  /** Set by the close handler: the socket is gone and must not be touched. */
  closed = false;
  unansweredSince = 0;
  nextPingAt = 0;
  session?: WsSession;
  private ending?: { code: number; reason: string; deadline: NodeJS.Timeout };

  constructor(private readonly ws: Uws.WebSocket<ConnData>, readonly remoteAddress: string) {}

  get closing(): boolean {
    return this.closed || this.ending !== undefined;
  }

  send(frame: Uint8Array): boolean {
    // uWS: 1 = written to the kernel, 0 = queued behind backpressure, 2 = dropped (over maxBackpressure).
    return !this.closing && this.ws.send(frame, true, false) === 1;
  }

  cork(write: () => void): void {
    // Outside a uWS callback each send is its own syscall; corked, a flush's frames go in one.
    if (this.closed) write();
    else this.ws.cork(write);
  }

  bufferedAmount(): number {
    return this.closed ? 0 : this.ws.getBufferedAmount();
  }

  /**
   * uWS's end() queues the close frame behind unsent data and then gives the peer only its
   * short ping timeout before cutting the socket: a slow reader would see a reset, not the
   * code. So the close frame is held back until the backlog drained (drain()), at most
   * CLOSE_DRAIN_MS, like ws's closing handshake.
   */
  close(code: number, reason: string): void {
    if (this.closing) return;
    if (this.ws.getBufferedAmount() === 0) {
      this.ws.end(code, closeReason(reason));
      return;
    }
    const deadline = setTimeout(() => this.endNow(), CLOSE_DRAIN_MS);
    deadline.unref();
    this.ending = { code, reason, deadline };
  }

  /** Sends a held-back close frame now (the backlog drained, or the wait is over). */
  endNow(): void {
    const ending = this.ending;
    if (!ending || this.closed) return;
    clearTimeout(ending.deadline);
    this.ending = undefined;
    this.closed = true; // until the close handler runs: no send may slip in
    this.ws.end(ending.code, closeReason(ending.reason));
  }

  drained(): boolean {
    if (this.ending && this.ws.getBufferedAmount() === 0) this.endNow();
    return this.ending === undefined && !this.closed;
  }

  released(): void {
    this.closed = true;
    if (this.ending) clearTimeout(this.ending.deadline);
    this.ending = undefined;
  }

  ping(): void {
    this.ws.ping();
  }

  idle(): void {
    this.session?.limited?.('HEARTBEAT_TIMEOUT');
    this.close(CloseCodes.IDLE_TIMEOUT, IDLE_REASON);
  }
}

export class UwsTransport extends RoutedTransport implements Transport {
  readonly kind = 'uws' as const;
  private readonly uws: UwsModule;
  private app?: Uws.TemplatedApp;
  private listenSocket?: Uws.us_listen_socket;
  private readonly conns = new Set<UwsConnection>();
  private readonly streams = new Set<UwsHttpStream>();
  private heartbeat?: Heartbeat;

  constructor(options: TransportOptions, log?: Logger, maxBackpressureBytes?: number) {
    super(options, log, maxBackpressureBytes);
    const native = loadNativeUws();
    if (!native.ok) throw new Error(`the native uWebSockets.js binary did not load: ${native.error}`);
    this.uws = native.uws;
  }

  listen(host: string, port: number): Promise<number> {
    const app = this.uws.App();
    this.app = app;
    if (this.wsPath !== undefined && this.wsHandlers) this.routeWebSocket(app, this.wsPath, this.wsHandlers);
    this.heartbeat = new Heartbeat(this.options, () => this.conns);
    app.any('/*', (res, req) => this.onHttp(res, req));
    return new Promise((resolve, reject) => {
      app.listen(host, port, (socket) => {
        if (socket === false) {
          reject(new Error(`uWebSockets.js could not listen on ${host}:${port}`));
          return;
        }
        this.listenSocket = socket;
        resolve(this.uws.us_socket_local_port(socket));
      });
    });
  }

  async close(code: number, reason: string): Promise<void> {
    const app = this.app;
    if (!app) return;
    this.app = undefined;
    this.heartbeat?.stop();
    let backlogged = false;
    // end() runs the close handler synchronously, which removes the connection from the set.
    for (const conn of [...this.conns]) {
      backlogged ||= conn.bufferedAmount() > 0;
      conn.close(code, reason);
      conn.endNow(); // a close held back for a slow reader goes now, with its own code
    }
    for (const stream of [...this.streams]) {
      backlogged ||= stream.bufferedAmount() > 0;
      stream.stop(code, reason);
    }
    if (this.listenSocket) this.uws.us_listen_socket_close(this.listenSocket);
    this.listenSocket = undefined;
    // A close frame queued behind backpressure needs time to leave before its socket is cut.
    if (backlogged) await new Promise((resolve) => setTimeout(resolve, CLOSE_GRACE_MS));
    // Keep-alive HTTP sockets outlive the listen socket (and keep the process alive) until closed here.
    // App.close() exists in this build but is missing from its typings.
    (app as Uws.TemplatedApp & { close?: () => void }).close?.();
  }

  private onHttp(res: Uws.HttpResponse, req: Uws.HttpRequest): void {
    const state: ResState = { aborted: false, done: false };
    res.onAborted(() => {
      state.aborted = true;
      state.onAborted?.();
    });
    // HttpRequest is stack-allocated by uWS: everything is read before the first await.
    const pairs: Array<[string, string]> = [];
    req.forEach((name, value) => { pairs.push([name, value]); });
    const header = headerLookup(pairs);
    const method = req.getMethod().toUpperCase();
    if (header('upgrade')?.toLowerCase() === 'websocket') {
      this.reply(res, state, method, UPGRADE_NOT_FOUND, true);
      return;
    }
    const rawQuery: string | undefined = req.getQuery(); // undefined, not '', without a query string
    const path = req.getUrl();
    if (path.length + (rawQuery === undefined ? 0 : rawQuery.length + 1) > MAX_TARGET_BYTES) {
      this.reply(res, state, method, uriTooLong(), true);
      return;
    }
    const base = {
      method,
      path,
      query: new URLSearchParams(rawQuery ?? ''),
      header,
      remoteAddress: textAddress(Buffer.from(res.getRemoteAddressAsText()).toString()),
    };
    const max = this.options.maxBodyBytes;
    const declared = Number(header('content-length') ?? 0);
    if (declared > max) {
      this.reply(res, state, method, tooLarge(max), true);
      return;
    }
    if (declared === 0 && header('transfer-encoding') === undefined) {
      void this.dispatch(res, state, { ...base, body: EMPTY });
      return;
    }
    const chunks: Buffer[] = [];
    let total = 0;
    res.onData((chunk, isLast) => {
      if (state.done) return;
      total += chunk.byteLength;
      if (total > max) {
        chunks.length = 0;
        this.reply(res, state, method, tooLarge(max), true);
        return;
      }
      // uWS neuters the chunk's ArrayBuffer as soon as this callback returns.
      chunks.push(Buffer.from(chunk.slice(0)));
      if (isLast) void this.dispatch(res, state, { ...base, body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total) });
    });
  }

  private async dispatch(res: Uws.HttpResponse, state: ResState, req: HttpRequest): Promise<void> {
    const wire = await runHandler(this.handler, req, this.log);
    if (wire.stream && req.method !== 'HEAD') this.stream(res, state, req.remoteAddress, wire);
    else this.reply(res, state, req.method, wire, false);
  }

  private stream(res: Uws.HttpResponse, state: ResState, remoteAddress: string, wire: WireResponse): void {
    if (state.aborted || state.done) return;
    state.done = true;
    const stream = new UwsHttpStream(res, remoteAddress, this.maxBackpressureBytes, this.log, () => this.streams.delete(stream));
    state.onAborted = () => stream.aborted();
    this.streams.add(stream);
    stream.start(wire);
  }

  private reply(res: Uws.HttpResponse, state: ResState, method: string, wire: WireResponse, closeConnection: boolean): void {
    if (state.aborted || state.done) return;
    state.done = true;
    // Bodiless answers never close the connection here (413 and the upgrade 404 carry a body).
    res.cork(() => {
      res.writeStatus(wire.statusLine);
      for (const [name, value] of wire.headers) res.writeHeader(name, value);
      const noBody = bodiless(method, wire.status);
      // endWithoutBody(length) never completes the response in this uWS build; write the header ourselves.
      if (noBody === 'head') res.writeHeader('content-length', String(wire.body.length));
      if (noBody) res.endWithoutBody(); // an explicit `undefined` length is sent as 2^63
      else res.end(wire.body, closeConnection);
    });
  }

  private routeWebSocket(app: Uws.TemplatedApp, wsPath: string, handlers: WsHandlers): void {
    const log = this.log;
    app.ws<ConnData>(wsPath, {
      compression: this.uws.DISABLED,
      maxPayloadLength: this.options.maxFrameBytes * UWS_PAYLOAD_CEILING_FACTOR,
      // Idle connections are found by the Heartbeat, which closes them with a code; uWS's own
      // timeout would cut them without one.
      idleTimeout: 0,
      sendPingsAutomatically: false,
      maxBackpressure: this.maxBackpressureBytes,
      upgrade: (res, req, context) => {
        const pairs: Array<[string, string]> = [];
        req.forEach((name, value) => { pairs.push([name, value]); });
        const header = headerLookup(pairs);
        const rawQuery: string | undefined = req.getQuery();
        const upgrade: WsUpgrade = {
          path: req.getUrl(),
          query: new URLSearchParams(rawQuery ?? ''),
          header,
          remoteAddress: textAddress(Buffer.from(res.getRemoteAddressAsText()).toString()),
        };
        // uWS echoes the protocol verbatim; the client's list must be narrowed to one, as ws does.
        const protocol = (header('sec-websocket-protocol') ?? '').split(',')[0].trim();
        res.upgrade<ConnData>({ upgrade }, header('sec-websocket-key') ?? '', protocol, header('sec-websocket-extensions') ?? '', context);
      },
      open: (ws) => {
        const data = ws.getUserData();
        const conn = new UwsConnection(ws, data.upgrade.remoteAddress);
        data.conn = conn;
        this.conns.add(conn);
        conn.session = openSession(handlers, conn, data.upgrade, log);
      },
      message: (ws, message, isBinary) => {
        const conn = ws.getUserData().conn;
        if (!conn || conn.closing) return;
        conn.unansweredSince = 0;
        if (message.byteLength > this.options.maxFrameBytes) {
          guard(log, 'limited', () => conn.session?.limited?.('FRAME_TOO_LARGE'));
          conn.close(CloseCodes.MESSAGE_TOO_BIG, 'FRAME_TOO_LARGE');
          return;
        }
        // Copied: uWS neuters the ArrayBuffer when this callback returns.
        guard(log, 'message', () => conn.session?.message(Buffer.from(message.slice(0)), isBinary));
      },
      pong: (ws) => {
        const conn = ws.getUserData().conn;
        if (conn) conn.unansweredSince = 0;
      },
      // A client's own ping proves it is there too (uWS answers it with a pong by itself).
      ping: (ws) => {
        const conn = ws.getUserData().conn;
        if (conn) conn.unansweredSince = 0;
      },
      drain: (ws) => {
        const conn = ws.getUserData().conn;
        if (conn?.drained()) guard(log, 'drain', () => conn.session?.drain());
      },
      close: (ws, code) => {
        const conn = ws.getUserData().conn;
        if (!conn) return;
        conn.released();
        this.conns.delete(conn);
        // end() calls this synchronously; deferring keeps closed() from re-entering the caller of close().
        queueMicrotask(() => guard(log, 'close', () => conn.session?.closed(code)));
      },
    });
  }
}
