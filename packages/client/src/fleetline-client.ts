import { decode, encode } from '@msgpack/msgpack';
import { Backoff, type BackoffOptions } from './backoff.js';
import { EventStream } from './event-stream.js';
import { Listeners } from './listeners.js';
import {
  CloseCode, SEQUENCED_FRAMES, StreamErrorCode,
  type BBox, type ClientFrame, type ResumeFailure, type ServerFrame, type Subscription, type VehicleDelta, type VehicleEvent, type VehicleState,
} from './protocol.js';
import { StreamStats, type ClientStats } from './stream-stats.js';
import { VehicleStore, type VehicleChanges } from './vehicle-store.js';
import { OPEN, openWebSocket, resolveWebSocket, type WebSocketImpl, type WebSocketLike } from './web-socket.js';

/** A token, or a function that fetches one (called for every connection and to renew before expiry). */
export type TokenSource = string | (() => string | Promise<string>);

export interface FleetlineClientOptions {
  /** The stream: `ws(s)://host:port/v1/stream`, or the engine's `http(s)://` base URL (`/v1/stream` is added). */
  readonly url: string;
  readonly token: TokenSource;
  /** The WebSocket class. Default: the global one (browsers); in Node 20 pass `ws`'s. */
  readonly webSocket?: WebSocketImpl;
  /** The subscription to start with. Default: none (call `subscribe`). */
  readonly subscription?: Subscription;
  /** Reconnect delays; `false`: never reconnect. Default: 500 ms doubling to 15 s, with jitter. */
  readonly reconnect?: BackoffOptions | false;
  /** With a token function: renew the token this long before it expires. Default: 60 000 ms. */
  readonly renewBeforeMs?: number;
  /** How often to ping for the round trip and the server's clock. Default: 15 000 ms; 0: never. */
  readonly pingIntervalMs?: number;
  /** A session saved from an earlier client (`client.session`), e.g. across a page reload: the first connection resumes it. */
  readonly resume?: { readonly session: string; readonly seq: number; readonly epoch?: number | null };
}

export type ConnectionState = 'idle' | 'connecting' | 'authenticating' | 'live' | 'reconnecting' | 'closed';

export interface StateChange {
  readonly state: ConnectionState;
  /** The close code that ended the previous connection, when there was one. */
  readonly closeCode?: number;
  readonly reason?: string;
  /** When reconnecting: the delay before the next attempt. */
  readonly retryInMs?: number;
}

/**
 * How a reconnect went on: `continued` (the server sent what was missed), `snapshot` (the gap was
 * too large: a full snapshot replaced the local set), `resubscribed` (the session was unknown, or
 * the server does not know `resume` yet: the client subscribed afresh).
 */
export interface ResumeOutcome {
  readonly outcome: 'continued' | 'snapshot' | 'resubscribed';
  /** `UNSUPPORTED`: the server does not know `resume`; `NO_SESSION`: it named no session to resume. */
  readonly reason?: ResumeFailure | 'UNSUPPORTED' | 'NO_SESSION';
}

export interface ClientEvents {
  state: StateChange;
  /** The vehicle map changed (call `takeChanges()` for the ids). */
  update: void;
  event: VehicleEvent;
  /** An `err` frame, or a failure to get a token. */
  error: { readonly code: string; readonly message: string };
  resume: ResumeOutcome;
  /** Every decoded frame, before it is applied. */
  frame: ServerFrame;
}

interface Timers {
  setTimeout(cb: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
  setInterval(cb: () => void, ms: number): unknown;
  clearInterval(id: unknown): void;
}
const timers = globalThis as unknown as Timers;

/** A close after which retrying with the same static token cannot succeed. */
const TERMINAL_WITH_STATIC_TOKEN = new Set<number>([CloseCode.BAD_TOKEN, CloseCode.TOKEN_EXPIRED]);
/** Routine closes: come back at once (with jitter), to any node. */
const ROUTINE = new Set<number>([CloseCode.SHUTTING_DOWN, CloseCode.IDLE_TIMEOUT, CloseCode.TOKEN_EXPIRED, CloseCode.SLOW_CLIENT]);

/**
 * A client of /v1/stream: connects and authenticates, keeps one subscription (replaced without
 * reconnecting), holds the vehicles in scope in `vehicles` (merged from snap, d and gone), streams
 * events once each, renews its token, and reconnects with backoff, resuming its session.
 */
export class FleetlineClient {
  private readonly url: string;
  private readonly impl: WebSocketImpl;
  private readonly store = new VehicleStore();
  private readonly eventStream = new EventStream();
  private readonly listeners = new Listeners<ClientEvents>();
  private readonly stats_ = new StreamStats();
  private readonly backoff: Backoff | null;
  private ws: WebSocketLike | null = null;
  private state_: ConnectionState = 'idle';
  private wanted = false;
  private everLive = false;
  private authed = false;
  private desired: Subscription | null;
  /** The subscription the server holds for this stream (the last one sent), as a key. */
  private sentKey: string | null = null;
  private session_: string | null = null;
  private epoch_: number | null = null;
  private lastSeq = 0;
  private resumeFrom: { session: string; seq: number; epoch?: number | null } | null;
  private resumePending = false;
  /** The session and epoch the current connection's `ready` named (a fresh stream's). */
  private readyStream: { session?: string; epoch?: number } = {};
  private expiresAt = 0;
  private companies_: readonly string[] | null | undefined = undefined;
  private retryTimer: unknown = null;
  private renewTimer: unknown = null;
  private pingTimer: unknown = null;
  private liveWaiters: { resolve: () => void; reject: (e: Error) => void }[] = [];

  constructor(private readonly options: FleetlineClientOptions) {
    this.url = streamUrl(options.url);
    this.impl = resolveWebSocket(options.webSocket);
    this.backoff = options.reconnect === false ? null : new Backoff(options.reconnect);
    this.desired = options.subscription ?? null;
    this.resumeFrom = options.resume ? { ...options.resume } : null;
    this.eventStream.on((e) => this.listeners.emit('event', e));
  }

  /** Opens the stream; resolves once authenticated, rejects if the client is closed first. */
  connect(): Promise<void> {
    if (this.state_ === 'closed') return Promise.reject(new Error('the client is closed'));
    const live = new Promise<void>((resolve, reject) => {
      if (this.state_ === 'live') resolve();
      else this.liveWaiters.push({ resolve, reject });
    });
    if (!this.wanted) {
      this.wanted = true;
      void this.open();
    }
    return live;
  }

  /** Closes the stream for good (no reconnect); event iterators end. */
  close(): void {
    this.wanted = false;
    this.clearTimers();
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close(CloseCode.NORMAL, 'client closed');
    this.setState({ state: 'closed' });
    this.eventStream.close();
    for (const w of this.liveWaiters.splice(0)) w.reject(new Error('the client was closed'));
  }

  /** Replaces the subscription (the server sends only what entered and left). */
  subscribe(subscription: Subscription): void {
    this.desired = { ...subscription };
    this.sendSubscription();
  }

  /** Changes some fields of the subscription; a field set to `undefined` is dropped. */
  updateSubscription(patch: Partial<Subscription>): void {
    const next: Record<string, unknown> = { ...(this.desired ?? {}), ...patch };
    for (const k of Object.keys(next)) if (next[k] === undefined) delete next[k];
    this.subscribe(next as Subscription);
  }

  /** The map's viewport (the bbox follows it; debounce calls while the user drags). */
  setViewport(bbox: BBox | undefined, zoom?: number): void {
    this.updateSubscription({ bbox, zoom: bbox === undefined ? undefined : zoom });
  }

  setFilter(filter: Subscription['filter']): void {
    this.updateSubscription({ filter });
  }

  /** Drops the subscription; the local map empties. */
  unsubscribe(): void {
    this.desired = null;
    this.store.clear();
    this.listeners.emit('update', undefined);
    if (this.sentKey !== null && this.send({ t: 'unsub' })) this.sentKey = null;
  }

  get subscription(): Subscription | null {
    return this.desired;
  }

  /** The vehicles in scope, by id, merged from the stream. Do not modify. */
  get vehicles(): ReadonlyMap<string, Readonly<VehicleState>> {
    return this.store.vehicles;
  }

  /** The ids added, changed or removed since the last call: apply them once per animation frame. */
  takeChanges(): VehicleChanges {
    return this.store.takeChanges();
  }

  /** The companies the token grants (from `ready`): null for an admin token, undefined before the first `ready`. */
  get companies(): readonly string[] | null | undefined {
    return this.companies_;
  }

  get state(): ConnectionState {
    return this.state_;
  }

  get stats(): ClientStats {
    return this.stats_.snapshot(this.lastSeq);
  }

  /** The session and last applied seq: saved, they let a later client resume (option `resume`). */
  get session(): { readonly session: string; readonly epoch: number | null; readonly seq: number } | null {
    return this.session_ === null ? null : { session: this.session_, epoch: this.epoch_, seq: this.lastSeq };
  }

  on<K extends keyof ClientEvents>(type: K, listener: (value: ClientEvents[K]) => void): () => void {
    return this.listeners.on(type, listener);
  }

  /** Vehicle events from now on, each once, until the client closes. */
  events(): AsyncIterableIterator<VehicleEvent> {
    return this.eventStream.iterate();
  }

  private async open(): Promise<void> {
    this.setState({ state: this.everLive ? 'reconnecting' : 'connecting' });
    let token: string;
    try {
      token = await this.token();
    } catch (e) {
      this.listeners.emit('error', { code: 'TOKEN_UNAVAILABLE', message: (e as Error).message });
      this.retry(undefined, 'no token');
      return;
    }
    if (!this.wanted) return;
    let ws: WebSocketLike;
    try {
      ws = openWebSocket(this.impl, this.url);
    } catch (e) {
      this.retry(undefined, (e as Error).message);
      return;
    }
    this.ws = ws;
    this.authed = false;
    ws.onopen = () => {
      if (ws !== this.ws) return;
      this.setState({ state: 'authenticating' });
      this.send({ t: 'auth', token });
    };
    ws.onmessage = (ev) => {
      if (ws === this.ws) this.onData(ev.data);
    };
    ws.onerror = () => {
      // a close event with the code follows
    };
    ws.onclose = (ev) => {
      if (ws === this.ws) this.onClose(ev.code, ev.reason);
    };
  }

  private token(): Promise<string> {
    const t = this.options.token;
    return Promise.resolve(typeof t === 'function' ? t() : t);
  }

  private send(frame: ClientFrame): boolean {
    const ws = this.ws;
    if (ws === null || ws.readyState !== OPEN) return false;
    ws.send(encode(frame, { ignoreUndefined: true }));
    return true;
  }

  private sendSubscription(): void {
    if (!this.authed || this.resumePending) return; // sent once the stream is ready or resumed
    if (this.desired === null) return;
    const key = JSON.stringify(this.desired);
    if (key === this.sentKey) return;
    if (this.send({ t: 'sub', ...this.desired })) this.sentKey = key;
  }

  private onData(data: unknown): void {
    let frame: ServerFrame;
    let bytes = 0;
    try {
      if (typeof data === 'string') {
        bytes = data.length;
        frame = JSON.parse(data) as ServerFrame;
      } else {
        const buf = data instanceof ArrayBuffer ? new Uint8Array(data) : (data as Uint8Array);
        bytes = buf.byteLength;
        frame = decode(buf) as ServerFrame;
      }
    } catch (e) {
      this.listeners.emit('error', { code: 'UNDECODABLE', message: (e as Error).message });
      return;
    }
    if (typeof frame !== 'object' || frame === null || typeof frame.t !== 'string') return;
    this.stats_.frame(bytes);
    this.listeners.emit('frame', frame);
    if (SEQUENCED_FRAMES.has(frame.t)) this.checkSeq((frame as { seq?: unknown }).seq);
    this.apply(frame);
  }

  private checkSeq(seq: unknown): void {
    if (typeof seq !== 'number') return;
    if (seq !== this.lastSeq + 1) this.stats_.seqGaps++;
    this.lastSeq = seq;
  }

  private apply(f: ServerFrame): void {
    switch (f.t) {
      case 'ready': return this.onReady(f);
      case 'resumed': return this.onResumed(f);
      case 'snap':
        if (f.partial) this.store.merge(list<VehicleDelta>(f.vehicles));
        else this.store.replace(list<VehicleState>(f.vehicles));
        return this.listeners.emit('update', undefined);
      case 'd': {
        const u = list<VehicleDelta>(f.u);
        this.store.merge(u);
        this.stats_.updates.add(u.length);
        let newest = -Infinity;
        for (const d of u) if (typeof d.ts === 'number' && d.ts > newest) newest = d.ts;
        if (newest > 0) this.stats_.delivered(newest);
        return this.listeners.emit('update', undefined);
      }
      case 'gone': {
        const ids = list<string>(f.ids);
        this.store.remove(ids);
        this.stats_.updates.add(ids.length);
        return this.listeners.emit('update', undefined);
      }
      case 'ev': {
        const fresh = this.eventStream.push(list<VehicleEvent>(f.e));
        this.stats_.events.add(fresh);
        return;
      }
      case 'pong': return this.stats_.pong(f.ts);
      case 'err': return this.onError(f.code, f.msg ?? '');
      case 'unsubbed': return;
    }
  }

  private onReady(f: Extract<ServerFrame, { t: 'ready' }>): void {
    if (typeof f.expiresAt === 'number') this.expiresAt = f.expiresAt;
    this.companies_ = Array.isArray(f.companies) ? f.companies : null;
    this.scheduleRenewal();
    if (this.authed) return; // a renewal was accepted
    this.authed = true;
    this.readyStream = { session: f.session, epoch: f.epoch };
    this.backoff?.reset();
    const from = this.desired !== null ? this.resumeFrom : null;
    if (from !== null) {
      this.resumePending = true;
      // the epoch of that seq lets the server tell a seq of another epoch (EPOCH_CHANGED)
      this.send({ t: 'resume', session: from.session, seq: from.seq, epoch: from.epoch ?? undefined });
    } else {
      const resubscribing = this.everLive && this.desired !== null;
      this.freshStream(f.session, f.epoch);
      if (resubscribing) this.listeners.emit('resume', { outcome: 'resubscribed', reason: 'NO_SESSION' });
    }
    this.startPing();
    this.everLive = true;
    this.setState({ state: 'live' });
    for (const w of this.liveWaiters.splice(0)) w.resolve();
  }

  /** A new stream on this connection: the session `ready` named, seq from 1, then subscribe. */
  private freshStream(session: string | undefined, epoch: number | undefined): void {
    this.resumeFrom = null;
    this.session_ = session ?? null;
    this.epoch_ = epoch ?? null;
    this.lastSeq = 0;
    this.sentKey = null;
    this.sendSubscription();
  }

  private onResumed(f: Extract<ServerFrame, { t: 'resumed' }>): void {
    if (!this.resumePending) return;
    this.resumePending = false;
    this.resumeFrom = null;
    this.session_ = f.session;
    this.epoch_ = f.epoch;
    if (!f.full) {
      // The server continues at our seq + 1 with the subscription it restored.
      this.listeners.emit('resume', { outcome: 'continued' });
    } else if (f.reason === 'UNKNOWN_SESSION') {
      this.lastSeq = 0;
      this.listeners.emit('resume', { outcome: 'resubscribed', reason: f.reason });
    } else {
      // A full snapshot (seq 1 of the new epoch) follows and replaces the local set.
      this.lastSeq = 0;
      this.listeners.emit('resume', { outcome: 'snapshot', reason: f.reason });
    }
    // The restored subscription is the last one the server read, which may not be the last one
    // sent (a sub written just before the drop is lost with it): send ours again. A replacement
    // that changes nothing costs the server nothing and sends nothing back.
    this.sentKey = null;
    this.sendSubscription();
  }

  private onError(code: string, message: string): void {
    if (code === StreamErrorCode.SUBSCRIPTION_RATE_LIMITED || code === StreamErrorCode.SUBSCRIPTION_TOO_LARGE) {
      // The server kept the previous subscription: ours is not what it holds.
      this.sentKey = null;
      // retry in a second (the retry timer is free while connected: it only waits between connections)
      if (code === StreamErrorCode.SUBSCRIPTION_RATE_LIMITED && this.retryTimer === null) {
        this.retryTimer = timers.setTimeout(() => {
          this.retryTimer = null;
          this.sendSubscription();
        }, 1000);
      }
    }
    if (this.resumePending && code === StreamErrorCode.BAD_FRAME) {
      // A server that does not know `resume` yet: subscribe afresh (its snap replaces the local set).
      this.resumePending = false;
      this.freshStream(this.readyStream.session, this.readyStream.epoch);
      this.listeners.emit('resume', { outcome: 'resubscribed', reason: 'UNSUPPORTED' });
      return;
    }
    this.listeners.emit('error', { code, message });
  }

  private onClose(code: number, reason: string): void {
    this.ws = null;
    this.authed = false;
    this.clearTimers();
    // An unanswered resume keeps the session it tried; otherwise the stream just lost is resumable.
    if (!this.resumePending && this.session_ !== null && this.sentKey !== null) this.resumeFrom = { session: this.session_, seq: this.lastSeq, epoch: this.epoch_ };
    this.resumePending = false;
    if (!this.wanted) return;
    if (this.backoff === null || (typeof this.options.token === 'string' && TERMINAL_WITH_STATIC_TOKEN.has(code))) {
      this.wanted = false;
      this.setState({ state: 'closed', closeCode: code, reason });
      this.eventStream.close();
      for (const w of this.liveWaiters.splice(0)) w.reject(new Error(`stream closed (${code}${reason ? `: ${reason}` : ''})`));
      return;
    }
    if (ROUTINE.has(code)) this.backoff.reset();
    this.retry(code, reason);
  }

  private retry(code: number | undefined, reason: string): void {
    if (!this.wanted) return;
    if (this.backoff === null) {
      this.close();
      return;
    }
    const delay = this.backoff.next();
    this.stats_.reconnects++;
    this.setState({ state: 'reconnecting', closeCode: code, reason, retryInMs: delay });
    this.retryTimer = timers.setTimeout(() => {
      this.retryTimer = null;
      if (this.wanted) void this.open();
    }, delay);
  }

  /** With a token function: fetch a fresh token and send it in an `auth` frame before this one expires. */
  private scheduleRenewal(): void {
    if (this.renewTimer !== null) timers.clearTimeout(this.renewTimer);
    this.renewTimer = null;
    if (typeof this.options.token !== 'function' || !this.expiresAt) return;
    const at = this.expiresAt - (this.options.renewBeforeMs ?? 60_000);
    this.renewTimer = timers.setTimeout(() => {
      this.renewTimer = null;
      this.token().then(
        (token) => this.send({ t: 'auth', token }),
        (e: Error) => this.listeners.emit('error', { code: 'TOKEN_UNAVAILABLE', message: e.message }),
      );
    }, Math.max(1000, at - Date.now()));
  }

  private startPing(): void {
    const every = this.options.pingIntervalMs ?? 15_000;
    if (every <= 0) return;
    const ping = () => {
      if (this.send({ t: 'ping' })) this.stats_.pingSent();
    };
    ping();
    this.pingTimer = timers.setInterval(ping, every);
  }

  private clearTimers(): void {
    for (const t of [this.retryTimer, this.renewTimer]) if (t !== null) timers.clearTimeout(t);
    if (this.pingTimer !== null) timers.clearInterval(this.pingTimer);
    this.retryTimer = this.renewTimer = this.pingTimer = null;
  }

  private setState(change: StateChange): void {
    this.state_ = change.state;
    this.listeners.emit('state', change);
  }
}

function list<T>(v: unknown): T[] {
  return Array.isArray(v) ? (v as T[]) : [];
}

/** `http(s)://host/base` → `ws(s)://host/base/v1/stream`; a ws(s) URL is taken as it is. */
export function streamUrl(url: string): string {
  if (/^wss?:/i.test(url)) return url;
  const m = /^(https?):(.*)$/i.exec(url);
  if (!m) throw new TypeError(`url must be ws(s):// or http(s)://, got ${JSON.stringify(url)}`);
  const base = m[2].replace(/\/+$/, '');
  return `${m[1].toLowerCase() === 'https' ? 'wss' : 'ws'}:${base}/v1/stream`;
}
