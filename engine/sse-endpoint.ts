import { createHash, timingSafeEqual } from 'node:crypto';
import { dispatch, type Ref } from 'nact';
import { FleetlineError } from '../actors/domain/errors.js';
import type { HttpRequest, HttpResponse, HttpStream, HttpStreamSession } from '../actors/ports/transport.js';
import { spawnSubscriber, type SubscriberDeps, type SubscriberMsg } from '../actors/subscriber-actor.js';
import { parseSubscription } from '../actors/subscription.js';
import { bearerToken } from './auth.js';
import { json, type Route } from './http-api.js';
import { parseQuery, tokenOnlyQuerySchema } from './http-schemas.js';
import { SseConnection } from './sse-connection.js';
import { SESSION_ID } from './sse-events.js';
import { parseSseRequest, resumeFrame, type SseRequest } from './sse-request.js';

export interface SseOptions {
  /** How often each stream gets a comment line (SSE_HEARTBEAT_S). */
  readonly heartbeatMs: number;
}

/** What an SSE stream's actor needs: the /v1/stream subscriber's, but its encoder is per connection (JSON events). */
export type SseSubscriberDeps = Omit<SubscriberDeps, 'encode'>;

const SSE_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' } as const;
const SUB_PATH = /^\/v1\/sse\/([^/]+)\/sub$/;

interface OpenStream {
  /** Null only while the actor is being spawned. */
  ref: Ref<SubscriberMsg> | null;
  /** SHA-256 of the token that opened the stream: only it may change the subscription. */
  readonly tokenDigest: Buffer;
  session: string | null;
}

/**
 * `GET /v1/sse` (Server-Sent Events, for clients that cannot open a WebSocket) and
 * `POST /v1/sse/:session/sub`. Each stream gets the same subscriber actor a WebSocket
 * connection gets, fed the frames its query string stands for; the transport only moves bytes.
 */
export class SseEndpoint {
  private open_ = 0;
  private nextId = 0;
  /** Open streams by session, for POST …/sub (this node's streams only). */
  private readonly bySession = new Map<string, OpenStream>();

  constructor(
    private readonly system: Ref<unknown>,
    private readonly deps: SseSubscriberDeps,
    private readonly options: SseOptions,
    private readonly ready: () => boolean,
  ) {}

  get connections(): number {
    return this.open_;
  }

  /** The routes of this endpoint (engine/http-api.ts asks for each path it has no route of its own for). */
  route(path: string): Route | undefined {
    // A HEAD must not open a stream (nor spawn an actor).
    if (path === '/v1/sse') return { GET: (req) => this.openStream(req), noHead: true };
    const m = SUB_PATH.exec(path);
    return m ? { POST: (req) => this.changeSubscription(req, m[1]) } : undefined;
  }

  /** Everything that can be refused is refused here, with a status and a JSON body, before the stream starts. */
  private async openStream(req: HttpRequest): Promise<HttpResponse> {
    if (!this.ready()) throw new FleetlineError('NOT_READY', 'the node is starting or stopping: try again (GET /readyz)');
    const request = parseSseRequest(req);
    await this.deps.verifier.verifySession(request.token);
    return { status: 200, headers: SSE_HEADERS, stream: (out) => this.start(out, request) };
  }

  private start(out: HttpStream, request: SseRequest): HttpStreamSession {
    this.open_++;
    const name = `sse-${++this.nextId}`;
    const subFrame = frame(request.sub);
    const stream: OpenStream = { ref: null, tokenDigest: digest(request.token), session: null };
    const forget = () => {
      if (stream.session !== null && this.bySession.get(stream.session) === stream) this.bySession.delete(stream.session);
    };
    const conn = new SseConnection(out, this.options.heartbeatMs, request.resume !== undefined, {
      session: (id) => {
        forget();
        stream.session = id;
        this.bySession.set(id, stream);
      },
      resubscribe: () => {
        if (stream.ref) dispatch(stream.ref, subFrame);
      },
    });
    // No shared MessagePack frame encoder here: SSE frames are JSON, encoded per connection.
    const ref = spawnSubscriber(this.system, name, conn, { ...this.deps, encode: conn.encode });
    stream.ref = ref;
    dispatch(ref, { kind: 'open', token: request.token });
    dispatch(ref, request.resume ? frame(resumeFrame(request.resume)) : subFrame);
    let closed = false;
    return {
      drain: () => {
        if (!closed) dispatch(ref, { kind: 'flush' });
      },
      closed: () => {
        if (closed) return;
        closed = true;
        this.open_--;
        conn.released();
        forget();
        dispatch(ref, { kind: 'closed' });
      },
      stop: (code, reason) => conn.close(code, reason),
    };
  }

  /**
   * Replaces a stream's subscription, as a `sub` frame on a WebSocket does: the answer is 202,
   * the `gone` and entries arrive on the stream. Only the token that opened the stream may; any
   * other answers 404 like an unknown session (a session's existence is not disclosed).
   */
  private async changeSubscription(req: HttpRequest, session: string): Promise<HttpResponse> {
    parseQuery(tokenOnlyQuerySchema, req.query);
    const token = bearerToken(req.header('authorization'), req.query);
    if (token === undefined || token === '') throw new FleetlineError('UNAUTHORIZED', 'a token is required: Authorization: Bearer or ?token=');
    await this.deps.verifier.verify(token);
    const stream = SESSION_ID.test(session) ? this.bySession.get(session) : undefined;
    if (stream === undefined || !timingSafeEqual(stream.tokenDigest, digest(token))) {
      throw new FleetlineError('NOT_FOUND', 'no SSE stream of this token with this session on this node');
    }
    const sub = subBody(req.body);
    if (stream.ref) dispatch(stream.ref, frame(sub));
    return json(202, { session });
  }
}

/** The body of POST …/sub: a `sub` frame as JSON (`t` may be left out). Throws MALFORMED_BODY or BAD_SUBSCRIPTION. */
function subBody(body: Buffer): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw new FleetlineError('MALFORMED_BODY', `the body must be a sub frame as JSON: ${(e as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new FleetlineError('MALFORMED_BODY', 'the body must be a JSON object (a sub frame)');
  const sub = { ...(value as Record<string, unknown>), t: 'sub' };
  const t = (value as Record<string, unknown>).t;
  if (t !== undefined && t !== 'sub') throw new FleetlineError('BAD_SUBSCRIPTION', 'the body is a sub frame: t must be "sub" or left out');
  parseSubscription(sub);
  return sub;
}

function frame(f: Readonly<Record<string, unknown>>): SubscriberMsg {
  return { kind: 'frame', data: Buffer.from(JSON.stringify(f), 'utf8'), isBinary: false };
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
