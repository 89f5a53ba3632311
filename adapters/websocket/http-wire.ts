import { STATUS_CODES, validateHeaderName, validateHeaderValue } from 'node:http';
import type { Logger } from 'pino';
import type {
  HttpHandler, HttpRequest, HttpResponse, HttpStream, HttpStreamSession, TransportOptions, WsConnection, WsHandlers, WsSession, WsUpgrade,
} from '../../actors/ports/transport.js';

// What both transport adapters share, so that one HttpResponse means the same bytes on the wire.

/** Sends made while more than this is already queued are dropped (uWS `maxBackpressure`, mirrored by ws). */
export const DEFAULT_MAX_BACKPRESSURE_BYTES = 16 * 1024 * 1024;

export interface WireResponse {
  readonly status: number;
  readonly statusLine: string;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: Buffer;
  /** A streaming answer (HttpResponse.stream): `body` is empty and unused. */
  readonly stream?: (out: HttpStream) => HttpStreamSession;
}

export const EMPTY = Buffer.alloc(0);
/** A peer that never answers the closing handshake must not hold close() hostage. */
export const CLOSE_GRACE_MS = 1000;
/**
 * How long a close frame may wait behind unsent data before the socket is cut anyway: a slow
 * reader must get to read its close code (ws waits the same 30 s for the closing handshake).
 */
export const CLOSE_DRAIN_MS = 30_000;
/** Close reason of a connection closed by the heartbeat. */
export const IDLE_REASON = 'idle: no pong (nor any frame) within WS_PONG_TIMEOUT_S of a ping';
// Framing headers belong to the server library; a handler-supplied copy would be written twice by uWS.
const FRAMING_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection']);
const INTERNAL: HttpResponse = { status: 500, headers: { 'content-type': 'application/json' }, body: '{"error":{"code":"INTERNAL","message":"internal error"}}' };
const NO_HANDLER: HttpResponse = { status: 404, headers: { 'content-type': 'application/json' }, body: '{"error":{"code":"NOT_FOUND","message":"no route"}}' };

/** Validates like node:http does (uWS would write CR/LF into the response verbatim) and fills defaults. */
export function toWire(r: HttpResponse): WireResponse {
  if (!Number.isInteger(r.status) || r.status < 100 || r.status > 599) throw new RangeError(`invalid HTTP status ${String(r.status)}`);
  const headers = new Map<string, string>();
  for (const [rawName, value] of Object.entries(r.headers ?? {})) {
    const name = rawName.toLowerCase();
    validateHeaderName(name);
    validateHeaderValue(name, value);
    if (!FRAMING_HEADERS.has(name)) headers.set(name, value);
  }
  let body: Buffer = EMPTY;
  if (typeof r.body === 'string') body = Buffer.from(r.body, 'utf8');
  else if (r.body !== undefined) body = Buffer.from(r.body.buffer, r.body.byteOffset, r.body.byteLength);
  if (r.body !== undefined && !headers.has('content-type')) {
    headers.set('content-type', typeof r.body === 'string' ? 'text/plain; charset=utf-8' : 'application/octet-stream');
  }
  const statusLine = `${r.status} ${STATUS_CODES[r.status] ?? 'Unknown'}`;
  return { status: r.status, statusLine, headers: [...headers], body, ...(r.stream ? { stream: r.stream } : {}) };
}

/**
 * Longest request target (path and query) either adapter passes to the handler; RFC 9110
 * §4.1 asks for at least 8,000 octets. node:http refuses a longer head itself (its
 * maxHeaderSize is set above this); uWebSockets.js cuts a head over 4 KiB that arrives in
 * more than one read without an answer, a limit of the library that JavaScript cannot reach.
 */
export const MAX_TARGET_BYTES = 32 * 1024;

const URI_TOO_LONG_BODY = JSON.stringify({ error: { code: 'URI_TOO_LONG', message: `the request target exceeds ${MAX_TARGET_BYTES} bytes` } });

export function uriTooLong(): WireResponse {
  return toWire({ status: 414, headers: { 'content-type': 'application/json' }, body: URI_TOO_LONG_BODY });
}

/** A whole HTTP/1.1 response for a socket node:http could not parse a request from. */
export function rawErrorResponse(status: 400 | 408 | 414 | 431): string {
  const body = status === 414 ? URI_TOO_LONG_BODY : '';
  const type = status === 414 ? 'content-type: application/json\r\n' : '';
  return `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nconnection: close\r\n${type}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

export function tooLarge(maxBodyBytes: number): WireResponse {
  return toWire({
    status: 413,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ error: { code: 'BODY_TOO_LARGE', message: `request body exceeds ${maxBodyBytes} bytes` } }),
  });
}

/** HEAD answers and these statuses never carry a body (RFC 9110 §6.4.1). */
export function bodiless(method: string, status: number): 'head' | 'none' | false {
  if (status < 200 || status === 204 || status === 304) return 'none';
  return method === 'HEAD' ? 'head' : false;
}

/** Never rejects: a failing handler becomes a 500 and a log line. */
export async function runHandler(handler: HttpHandler | undefined, req: HttpRequest, log: Logger | undefined): Promise<WireResponse> {
  if (!handler) return toWire(NO_HANDLER);
  try {
    return toWire(await handler(req));
  } catch (err) {
    log?.error({ err, method: req.method, path: req.path }, 'HTTP handler failed; answered 500');
    return toWire(INTERNAL);
  }
}

/** Duplicate request headers are joined the way node:http joins most of them. */
export function headerLookup(pairs: Iterable<readonly [string, string]>): (name: string) => string | undefined {
  const map = new Map<string, string>();
  for (const [rawName, value] of pairs) {
    const name = rawName.toLowerCase();
    const prev = map.get(name);
    map.set(name, prev === undefined ? value : `${prev}${name === 'cookie' ? '; ' : ', '}${value}`);
  }
  return (name) => map.get(name.toLowerCase());
}


/** IPv4 clients of a dual-stack socket show up as ::ffff:a.b.c.d; logs and rate limits want a.b.c.d. */
export function textAddress(address: string): string {
  return /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(address) ? address.slice(7) : address;
}

/** Close reasons are limited to 123 bytes by RFC 6455; ws throws beyond that. */
export function closeReason(reason: string): string {
  const chars = Array.from(reason);
  while (Buffer.byteLength(chars.join('')) > 123) chars.pop();
  return chars.join('');
}

/** Engine callbacks run inside socket events: a throw there must not take the process down. */
export function guard(log: Logger | undefined, what: string, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    log?.error({ err }, `WebSocket ${what} handler threw`);
  }
}

/** guard() for the handlers of a streaming HTTP response. */
export function guardStream(log: Logger | undefined, what: string, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    log?.error({ err }, `HTTP stream ${what} handler threw`);
  }
}

/** Opens the session for a new connection; a handler that throws gets the socket closed with 1011. */
export function openSession(handlers: WsHandlers, conn: WsConnection, upgrade: WsUpgrade, log: Logger | undefined): WsSession | undefined {
  try {
    return handlers.open(conn, upgrade);
  } catch (err) {
    log?.error({ err }, 'WebSocket open handler threw; closing 1011');
    conn.close(1011, 'internal error');
    return undefined;
  }
}

/** One connection as the heartbeat sees it. */
export interface HeartbeatLink {
  /**
   * When the oldest ping still unanswered was sent (ms); 0 when every ping was answered. The
   * adapter resets it on every pong and every frame from the client: either proves the peer
   * reads and answers.
   */
  unansweredSince: number;
  /** When this link's next ping is due (ms); 0 for a new link (its first ping comes one interval after the heartbeat sees it). */
  nextPingAt: number;
  /** True once the link is closing: the heartbeat leaves it alone. */
  readonly closing: boolean;
  /** Sends a protocol-level ping (opcode 0x9): every conforming client answers it with a pong by itself. */
  ping(): void;
  /** Ends the connection with a close frame carrying CloseCodes.IDLE_TIMEOUT (HEARTBEAT_TIMEOUT). */
  idle(): void;
}

export interface HeartbeatOptions {
  /** Seconds between two pings of a connection (WS_PING_INTERVAL_S); 0 disables the heartbeat. */
  readonly pingIntervalSeconds: number;
  /** Seconds a ping may stay unanswered before the connection is closed (WS_PONG_TIMEOUT_S). */
  readonly pongTimeoutSeconds: number;
}

/**
 * Both adapters ping and time out their connections the same way, in JavaScript, so that a
 * peer that stopped answering is closed with a close frame and a code (uWS's own idleTimeout
 * cuts the socket without one, and ws has no timer of its own). Each link is pinged every
 * interval from when it opened (so pings are spread, not sent in one burst), and closed once
 * a ping has been unanswered for the timeout: the check runs four times per shorter period,
 * so a silent peer goes at most a quarter of it late.
 */
export class Heartbeat {
  private readonly timer?: NodeJS.Timeout;

  constructor(options: HeartbeatOptions, links: () => Iterable<HeartbeatLink>) {
    if (options.pingIntervalSeconds <= 0) return;
    const intervalMs = options.pingIntervalSeconds * 1000;
    const timeoutMs = options.pongTimeoutSeconds * 1000;
    this.timer = setInterval(() => Heartbeat.tick(Date.now(), links(), intervalMs, timeoutMs), Math.max(50, Math.min(intervalMs, timeoutMs) / 4));
    this.timer.unref();
  }

  static tick(now: number, links: Iterable<HeartbeatLink>, intervalMs: number, timeoutMs: number): void {
    for (const link of links) {
      if (link.closing) continue;
      if (link.unansweredSince !== 0 && now - link.unansweredSince >= timeoutMs) {
        link.idle();
        continue;
      }
      if (link.nextPingAt === 0) link.nextPingAt = now + intervalMs;
      if (now < link.nextPingAt) continue;
      link.nextPingAt = now + intervalMs;
      if (link.unansweredSince === 0) link.unansweredSince = now;
      link.ping();
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** Opens a handler's stream; a handler that throws gets the stream ended at once. */
export function openStream(wire: WireResponse, out: HttpStream, log: Logger | undefined): HttpStreamSession | undefined {
  try {
    return wire.stream?.(out);
  } catch (err) {
    log?.error({ err }, 'HTTP stream handler threw; ending the stream');
    out.end();
    return undefined;
  }
}

/** What both adapters hold before they listen: options, the HTTP handler and the one WebSocket route. */
export abstract class RoutedTransport {
  protected handler?: HttpHandler;
  protected wsPath?: string;
  protected wsHandlers?: WsHandlers;

  constructor(
    protected readonly options: TransportOptions,
    protected readonly log?: Logger,
    protected readonly maxBackpressureBytes = DEFAULT_MAX_BACKPRESSURE_BYTES,
  ) {}

  onRequest(handler: HttpHandler): void {
    this.handler = handler;
  }

  websocket(path: string, handlers: WsHandlers): void {
    this.wsPath = path;
    this.wsHandlers = handlers;
  }
}
