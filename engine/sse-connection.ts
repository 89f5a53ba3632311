import { randomBytes } from 'node:crypto';
import type { ClientConnection } from '../actors/ports/client-connection.js';
import type { HttpStream } from '../actors/ports/transport.js';
import { eventId, SEQUENCED_FRAMES, SESSION_ID, sseComment, sseEvent } from './sse-events.js';

/** What the endpoint learns from the frames that pass through a connection. */
export interface SseConnectionHooks {
  /** The stream's session is known (`ready`), or changed (a `resumed` naming a new one). */
  session(id: string): void;
  /** A resume was answered "unknown session" or refused: subscribe afresh with the request's `sub`. */
  resubscribe(): void;
}

type Frame = Readonly<Record<string, unknown>> & { readonly t: string };

/**
 * One `GET /v1/sse` stream as its subscriber actor sees it: a ClientConnection whose frames are
 * encoded as SSE events (JSON) by `encode`, the encoder injected for this connection only, since
 * event ids name the connection's session and epoch. Closing it writes a last `close` event with
 * the WebSocket close code, then ends the response. A comment line goes out every heartbeat
 * period (a few bytes, whether or not events flow), so proxies keep a quiet stream open.
 */
export class SseConnection implements ClientConnection {
  private session: string | null = null;
  private epoch = 1;
  private resuming: boolean;
  private ended = false;
  private readonly heartbeat: NodeJS.Timeout;

  constructor(private readonly out: HttpStream, heartbeatMs: number, resuming: boolean, private readonly hooks: SseConnectionHooks) {
    this.resuming = resuming;
    // The first bytes also make uWebSockets.js send the head.
    out.write(sseComment('fleetline'));
    this.heartbeat = setInterval(() => this.beat(), heartbeatMs);
    this.heartbeat.unref();
  }

  /** The subscriber actor's encoder for this connection: one event per frame. */
  readonly encode = (value: unknown): Uint8Array => {
    let frame = value as Frame;
    if (frame.t === 'ready' || frame.t === 'resumed') frame = this.follow(frame);
    else if (frame.t === 'err' && this.resuming) {
      // The subscriber refused the resume frame (a subscriber without resume answers BAD_FRAME).
      this.resuming = false;
      this.hooks.resubscribe();
    }
    const seq = frame.seq;
    const id = SEQUENCED_FRAMES.has(frame.t) && this.session !== null && typeof seq === 'number'
      ? eventId({ session: this.session, epoch: this.epoch, seq })
      : undefined;
    return sseEvent(frame.t, JSON.stringify(frame), id);
  };

  send(bytes: Uint8Array): boolean {
    return this.out.write(bytes);
  }

  bufferedAmount(): number {
    return this.out.bufferedAmount();
  }

  /** Like a WebSocket close frame: an event `close` with the code, after what is queued. */
  close(code: number, reason: string): void {
    if (this.ended) return;
    this.out.write(sseEvent('close', JSON.stringify({ t: 'close', code, reason })));
    this.ended = true;
    clearInterval(this.heartbeat);
    this.out.end();
  }

  /** The response is over (either side ended it). */
  released(): void {
    this.ended = true;
    clearInterval(this.heartbeat);
  }

  private beat(): void {
    if (!this.ended) this.out.write(sseComment('heartbeat'));
  }

  /** Takes the session and epoch named by `ready` and `resumed`, which every later event id carries. */
  private follow(frame: Frame): Frame {
    let named = frame;
    if (typeof frame.session !== 'string' || !SESSION_ID.test(frame.session)) {
      // A subscriber that names no session yet: the stream gets one of its own, so that
      // POST /v1/sse/:session/sub can find it (a resume with it is answered as unknown).
      named = { ...frame, session: this.session ?? randomBytes(16).toString('base64url'), epoch: this.epoch };
    }
    const session = named.session as string;
    if (typeof named.epoch === 'number') this.epoch = named.epoch;
    if (session !== this.session) {
      this.session = session;
      this.hooks.session(session);
    }
    if (frame.t === 'resumed') {
      this.resuming = false;
      if (frame.reason === 'UNKNOWN_SESSION') this.hooks.resubscribe();
    }
    return named;
  }
}
