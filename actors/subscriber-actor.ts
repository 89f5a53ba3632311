import { dispatch, spawn, stop, type Ref } from 'nact';
import { CloseCodes, FleetlineError, type ErrorCode } from './domain/errors.js';
import type { VehicleView } from './domain/vehicle-state.js';
import type { VehicleEvent } from './domain/vehicle-event.js';
import type { DeliveryHub, DeliveryTarget, Update } from './delivery-hub.js';
import type { ClientConnection, Grant, Session, TokenVerifier } from './ports/client-connection.js';
import type { EngineMetrics } from './ports/engine-metrics.js';
import type { StateIndex } from './ports/state-index.js';
import { inScope, parseSubscription, projectView, type GroupMembership, type Subscription, type SubscriptionLimits } from './subscription.js';
import type { ConnectionQuota } from './connection-quota.js';
import { RateWindow } from './rate-window.js';
import type { SessionRegistry } from './session-registry.js';
import { SeenSet, type StreamSession } from './stream-session.js';
import { resumeStream, type ResumeContext } from './stream-resume.js';
import { sendableClasses } from './delivery-priority.js';
import { ClusterGrid, VehicleRateLimit } from './level-of-detail.js';
import { PendingBatch, pendingBytes, pendingValue, type PendingEntry } from './pending-batch.js';
import type { FrameEncoder } from './ports/frame-encoder.js';
import type { FlushPace } from './flush-pace.js';

export interface SubscriberOptions {
  /** How often pending deltas are flushed to the client. */
  readonly flushMs: number;
  /** How often pending changes of vehicles standing still are flushed (default 1000). */
  readonly stoppedFlushMs?: number;
  /** How often a `lod: "clusters"` subscription gets its changed cell counts (default 1000). */
  readonly clusterFlushMs?: number;
  /** Above this many unsent bytes, flushes wait and deltas keep coalescing. */
  readonly maxBufferedBytes: number;
  /**
   * Above this many unsent bytes (events and snapshots still go out to a slow client) the
   * connection is closed with SLOW_CLIENT rather than letting the transport drop frames silently.
   */
  readonly maxQueuedBytes: number;
  readonly maxFramesPerSecond: number;
  /** `sub` frames per second above which a change is refused (err frame; the connection stays). Default: no limit beyond maxFramesPerSecond. */
  readonly maxSubscriptionsPerSecond?: number;
  /** Longest `vehicles`/`companies`/`groups` lists of a subscription (default DEFAULT_SUBSCRIPTION_LIMITS). */
  readonly subscriptionLimits?: SubscriptionLimits;
  readonly authTimeoutMs: number;
  /** Most vehicles one `snap` frame carries. */
  readonly snapshotLimit: number;
}

export interface SubscriberDeps {
  readonly index: StateIndex;
  readonly hub: DeliveryHub;
  /** Vehicle groups from reference data (subscriptions by group). */
  readonly membership: GroupMembership;
  readonly verifier: TokenVerifier;
  readonly encode: (frame: unknown) => Uint8Array;
  /** Set: `d` frames are assembled from entries encoded once per update and shared; unset: each frame is encoded whole, per client. */
  readonly frames?: FrameEncoder;
  readonly decode: (bytes: Uint8Array) => unknown;
  readonly metrics: EngineMetrics;
  readonly options: SubscriberOptions;
  /** Open streams per token (WS_MAX_CONNECTIONS_PER_TOKEN); none: no limit. */
  readonly quota?: ConnectionQuota;
  /** Stream sessions, for `resume` (docs/protocol.md); without it a connection has no session. */
  readonly sessions?: SessionRegistry;
  /** The node's flush interval, stretched under load (flush-pace.ts); none: always options.flushMs. */
  readonly pace?: FlushPace;
}

export type SubscriberMsg =
  | { readonly kind: 'open'; readonly token: string | undefined }
  | { readonly kind: 'frame'; readonly data: Uint8Array; readonly isBinary: boolean }
  /** The hub handed over changes (in the inbox) that must not wait for the flush timer. */
  | { readonly kind: 'deliver' }
  | { readonly kind: 'flush' }
  | { readonly kind: 'expired' }
  /** Another connection resumed this connection's session. */
  | { readonly kind: 'taken' }
  | { readonly kind: 'closed' };

export interface SubscriberState {
  grant: Grant | undefined;
  sub: Subscription | null;
  seen: SeenSet;
  pending: PendingBatch;
  gone: Set<string>;
  events: VehicleEvent[];
  seq: number;
  flushTimer: NodeJS.Timeout | null;
  /** When the armed flush timer fires (ms since epoch). */
  flushAt: number;
  /** When changes of stopped vehicles may go out next. */
  stoppedDueAt: number;
  /** Level of detail: cell counts instead of vehicles, or a per-vehicle rate limit. */
  clusters: ClusterGrid | null;
  clustersDueAt: number;
  rateLimit: VehicleRateLimit | null;
  authTimer: NodeJS.Timeout | null;
  /** When the token expires (ms since epoch), and the timer that ends the stream then. */
  expiresAt: number;
  expiryTimer: NodeJS.Timeout | null;
  target: Target | null;
  /** The quota place this stream holds (the token it authenticated with), released at shutdown. */
  quotaKey: string | null;
  closed: boolean;
  session: StreamSession | null;
  /** Changes the hub handed over and the actor has not applied yet (applied first thing at its next message). */
  inbox: DeliveryInbox;
}

/** One call of the hub. */
interface Delivery {
  readonly updates: Update[];
  readonly events: VehicleEvent[];
}

/**
 * What the hub delivered to one connection since its actor last ran. The hub calls a target once
 * per event-loop turn that changed something in its scope; a message to the actor for each would
 * cost more than the changes themselves (10k connections × every turn). So changes wait here and
 * are applied when the actor next runs, which is at the latest its next flush: a message is sent
 * only when no flush is due within the flush interval, or when something must go out at once.
 */
interface DeliveryInbox {
  /** The hub's calls in order, each the changes of one event-loop turn. */
  batches: Delivery[];
  /** A `deliver` message is in the mailbox, not yet handled. */
  woken: boolean;
}

/** This connection at the delivery hub: re-filed there whenever its grant or subscription changes. */
type Target = { grant: Grant; sub: Subscription | null } & Pick<DeliveryTarget, 'deliver'>;

/**
 * One actor per WebSocket connection: authenticates, holds the subscription, what the client
 * has seen, and a pending batch coalesced per vehicle (latest wins, fields merged), flushed on
 * a short timer. A slow client gets fewer, newer updates; events are never coalesced away.
 */
export function spawnSubscriber(parent: Ref<unknown>, name: string, conn: ClientConnection, deps: SubscriberDeps): Ref<SubscriberMsg> {
  const initial: SubscriberState = {
    grant: undefined, sub: null, seen: new SeenSet(), pending: new PendingBatch(), gone: new Set(), events: [], seq: 0,
    flushTimer: null, flushAt: 0, stoppedDueAt: 0, clusters: null, clustersDueAt: 0, rateLimit: null, authTimer: null, expiresAt: 0, expiryTimer: null, target: null, quotaKey: null, closed: false, session: null,
    inbox: { batches: [], woken: false },
  };
  const frameRate = new RateWindow(deps.options.maxFramesPerSecond);
  const subRate = new RateWindow(deps.options.maxSubscriptionsPerSecond ?? Number.POSITIVE_INFINITY);
  const stoppedFlushMs = deps.options.stoppedFlushMs ?? 1000;
  const clusterFlushMs = deps.options.clusterFlushMs ?? 1000;
  const send = (s: SubscriberState, frame: Record<string, unknown>, type: string): void => {
    if (s.closed || s.session?.taken) return;
    sendBytes(s, deps.encode(frame), type, frame);
  };
  /** `frame` is the frame the bytes encode, or (for a `d` assembled from shared entries) its `t` and `seq`: the session reads those. */
  const sendBytes = (s: SubscriberState, bytes: Uint8Array, type: string, frame: Record<string, unknown>): void => {
    if (s.closed || s.session?.taken) return;
    if (!conn.send(bytes) && conn.bufferedAmount() > deps.options.maxQueuedBytes) {
      deps.metrics.clientError('SLOW_CLIENT');
      conn.close(CloseCodes.SLOW_CLIENT, 'SLOW_CLIENT');
      shutdown(s);
      return;
    }
    deps.metrics.frameSent(type, bytes.byteLength);
    // `resumed` names the client's seq, not a frame of its own: it is not in the session's numbering.
    if (typeof frame.seq === 'number' && type !== 'resumed') s.session?.onFrame(frame, () => watermark(s));
  };
  /** Every update received before this time is in the frames sent: the oldest one still pending, or now. */
  const watermark = (s: SubscriberState): number => {
    let oldest = Date.now();
    for (const p of s.pending.values()) if (p.receivedAt < oldest) oldest = p.receivedAt;
    for (const batch of s.inbox.batches) for (const u of batch.updates) if (u.receivedAt < oldest) oldest = u.receivedAt;
    return oldest;
  };
  const fail = (s: SubscriberState, code: ErrorCode, msg: string, close?: number): void => {
    deps.metrics.clientError(code);
    send(s, { t: 'err', code, msg }, 'err');
    if (close !== undefined) {
      conn.close(close, code);
      shutdown(s);
    }
  };
  const shutdown = (s: SubscriberState): void => {
    if (s.closed) return;
    s.closed = true;
    if (s.flushTimer) clearTimeout(s.flushTimer);
    if (s.authTimer) clearTimeout(s.authTimer);
    if (s.expiryTimer) clearTimeout(s.expiryTimer);
    if (s.target) deps.hub.detach(s.target);
    if (s.quotaKey !== null) deps.quota?.release(s.quotaKey);
    if (s.session !== null) void deps.sessions?.detach(s.session);
    stop(self);
  };
  /**
   * Arms the flush timer for the soonest pending class: WS_FLUSH_MS for moving vehicles and
   * `gone`, the stopped or cluster timer when only those wait (no wake-up every few ms for them).
   */
  const scheduleFlush = (s: SubscriberState): void => {
    if (s.closed) return;
    const now = Date.now();
    const flushMs = deps.pace?.ms ?? deps.options.flushMs;
    let at = Infinity;
    if (s.gone.size > 0 || s.events.length > 0 || s.pending.count('moving') > 0 || s.pending.count('urgent') > 0) at = now + flushMs;
    if (s.pending.count('stopped') > 0) at = Math.min(at, Math.max(now + flushMs, s.stoppedDueAt));
    if (s.clusters?.dirty) at = Math.min(at, Math.max(now + flushMs, s.clustersDueAt));
    if (at === Infinity || (s.flushTimer !== null && s.flushAt <= at)) return;
    if (s.flushTimer) clearTimeout(s.flushTimer);
    s.flushAt = at;
    s.flushTimer = setTimeout(() => dispatch(self, { kind: 'flush' }), at - now);
  };
  /** Writes of one turn leave in one syscall on uWebSockets.js. */
  const corked = (write: () => void): void => {
    if (conn.cork) conn.cork(write);
    else write();
  };

  /** Ends the stream when the token expires, unless a fresh token arrives first (re-armed then). */
  const armExpiry = (s: SubscriberState, expiresAt: number): void => {
    s.expiresAt = expiresAt;
    if (s.expiryTimer) clearTimeout(s.expiryTimer);
    // Capped at setTimeout's range; a timer that fires early just re-arms (see 'expired').
    const delay = Math.min(Math.max(0, expiresAt - Date.now()), 2 ** 31 - 1);
    s.expiryTimer = setTimeout(() => dispatch(self, { kind: 'expired' }), delay);
    // A token lives for hours: its timer must not keep a stopping process alive when the actor
    // system is stopped before this connection's close reaches the actor.
    s.expiryTimer.unref();
  };

  const onExpired = (s: SubscriberState): void => {
    s.expiryTimer = null;
    if (s.closed || s.grant === undefined) return;
    if (Date.now() < s.expiresAt) return armExpiry(s, s.expiresAt);
    fail(s, 'TOKEN_EXPIRED', 'the token expired; reconnect with a fresh one, or send {t:"auth", token} before it expires', CloseCodes.TOKEN_EXPIRED);
  };

  const ready = (s: SubscriberState, session: Session): void => {
    send(s, {
      t: 'ready', companies: session.grant === null ? null : [...session.grant], expiresAt: session.expiresAt,
      ...(s.session !== null ? { session: s.session.id, epoch: s.session.epoch } : {}),
    }, 'ready');
  };

  const authenticate = async (s: SubscriberState, token: string): Promise<void> => {
    try {
      const session = await deps.verifier.verifySession(token);
      if (s.closed) return;
      if (deps.quota && session.tokenId !== undefined) {
        if (!deps.quota.acquire(session.tokenId)) {
          const msg = `this token already holds ${deps.quota.perToken} open streams on this node (WS_MAX_CONNECTIONS_PER_TOKEN): close one first`;
          return fail(s, 'TOO_MANY_CONNECTIONS', msg, CloseCodes.TOO_MANY_CONNECTIONS);
        }
        s.quotaKey = session.tokenId;
      }
      const grant = session.grant;
      s.grant = grant;
      if (s.authTimer) clearTimeout(s.authTimer);
      s.authTimer = null;
      armExpiry(s, session.expiresAt);
      if (deps.sessions) adopt(s, deps.sessions.open(grant));
      s.target = { grant, sub: s.sub, deliver: (updates, events) => receive(s, updates, events) };
      deps.hub.attach(s.target);
      ready(s, session);
    } catch (e) {
      fail(s, 'BAD_TOKEN', e instanceof FleetlineError ? e.message : 'the token is invalid or expired', CloseCodes.BAD_TOKEN);
    }
  };

  /**
   * A fresh token on an authenticated stream extends it. It may grant the same or less, never
   * more: a wider token is refused (FORBIDDEN; the stream goes on under the old one), since a
   * stream that silently gains companies would outlive the decision that issued it. A narrower
   * one takes effect at once: vehicles it no longer grants are sent as `gone`.
   */
  const reauthenticate = async (s: SubscriberState, token: string): Promise<void> => {
    const current = s.grant as Grant;
    let session: Session;
    try {
      session = await deps.verifier.verifySession(token);
    } catch (e) {
      return fail(s, 'BAD_TOKEN', e instanceof FleetlineError ? e.message : 'the token is invalid or expired');
    }
    if (s.closed) return;
    const next = session.grant;
    if (!grantWithin(next, current)) {
      return fail(s, 'FORBIDDEN', 'a fresh token may not grant more than the stream already has: reconnect with it instead');
    }
    if (!sameGrant(next, current)) narrow(s, next);
    armExpiry(s, session.expiresAt);
    ready(s, session);
  };

  const narrow = (s: SubscriberState, grant: Grant): void => {
    s.grant = grant;
    s.session?.narrowed(grant);
    refile(s);
    // Cells count only what the grant still covers (a cluster client holds no vehicles in seen).
    if (s.clusters !== null && s.sub !== null) {
      fillClusters(s.clusters, grant, s.sub);
      if (s.clusters.dirty) scheduleFlush(s);
    }
    if (s.seen.size === 0) return;
    const still = new Set(deps.index.query({ grant, ids: [...s.seen], limit: s.seen.size }).map((v) => v.id));
    for (const id of s.seen) {
      if (still.has(id)) continue;
      s.seen.delete(id);
      s.pending.delete(id);
      s.gone.add(id);
    }
    s.events = s.events.filter((e) => s.seen.has(e.vehicleId));
    if (s.gone.size > 0) scheduleFlush(s);
  };

  const refile = (s: SubscriberState): void => {
    if (s.target === null || s.grant === undefined) return;
    s.target.grant = s.grant;
    s.target.sub = s.sub;
    deps.hub.attach(s.target);
  };

  /** Everything in a subscription's scope now (at most snapshotLimit vehicles), from the state index. */
  const scopeNow = (grant: Grant, sub: Subscription): VehicleView[] => {
    let ids = sub.vehicles ? [...sub.vehicles] : undefined;
    if (sub.groups) {
      const members = new Set<string>();
      for (const g of sub.groups) for (const id of deps.membership.membersOf(g) ?? []) if (!sub.vehicles || sub.vehicles.has(id)) members.add(id);
      ids = [...members];
    }
    const vehicles = deps.index.query({
      grant, bbox: sub.bbox, ids, companies: sub.companies ? [...sub.companies] : undefined, limit: deps.options.snapshotLimit,
      where: (v) => inScope(sub, grant, v, deps.membership),
    });
    deps.hub.shown(vehicles);
    return vehicles;
  };

  /**
   * The first subscription gets a `snap` of its whole scope. A replacement (new viewport,
   * filters, selectors) sends only the difference: `gone` for what left, full entries in a `d`
   * for what entered; a change of `fields` re-sends every vehicle in the new form.
   */
  const subscribe = (s: SubscriberState, frame: Record<string, unknown>): void => {
    if (s.grant === undefined) throw new FleetlineError('AUTH_REQUIRED');
    const sub = parseSubscription(frame, deps.options.subscriptionLimits);
    const previous = s.sub;
    s.sub = sub;
    refile(s);
    s.rateLimit = typeof sub.lod === 'object' ? new VehicleRateLimit(sub.lod.minIntervalMs) : null;
    if (sub.lod === 'clusters') return subscribeClusters(s, s.grant, sub);
    const vehicles = scopeNow(s.grant, sub);
    if (previous === null || s.clusters !== null) {
      s.clusters = null;
      s.pending.clear();
      s.gone.clear();
      s.seen = new SeenSet(vehicles.map((v) => v.id));
      send(s, { t: 'snap', seq: ++s.seq, vehicles: sub.fields === 'full' ? vehicles : vehicles.map((v) => projectView(v, 'min')) }, 'snap');
      s.session?.subscribed(sub, s.seen, s.seq);
      return;
    }
    const next = new Set(vehicles.map((v) => v.id));
    for (const id of s.seen) {
      if (next.has(id)) continue;
      s.seen.delete(id);
      s.pending.delete(id);
      s.gone.add(id);
    }
    const resend = previous.fields !== sub.fields;
    const entered: unknown[] = [];
    for (const v of vehicles) {
      if (!resend && s.seen.has(v.id)) continue;
      s.seen.add(v.id);
      s.pending.delete(v.id);
      entered.push(projectView(v, sub.fields));
    }
    s.events = s.events.filter((e) => s.seen.has(e.vehicleId));
    if (s.gone.size > 0) {
      send(s, { t: 'gone', seq: ++s.seq, ids: [...s.gone] }, 'gone');
      s.gone.clear();
    }
    if (entered.length > 0) send(s, { t: 'd', seq: ++s.seq, u: entered }, 'd');
    s.session?.subscribed(sub, s.seen, s.seq);
  };

  const adopt = (s: SubscriberState, session: StreamSession): void => {
    s.session = session;
    session.onTaken = () => dispatch(self, { kind: 'taken' });
  };
  const detail = (s: SubscriberState, grant: Grant, sub: Subscription | null): void => {
    s.rateLimit = sub !== null && typeof sub.lod === 'object' ? new VehicleRateLimit(sub.lod.minIntervalMs) : null;
    if (sub !== null && sub.lod === 'clusters') subscribeClusters(s, grant, sub);
  };
  const resumeContext: ResumeContext = { sessions: deps.sessions, metrics: deps.metrics, send, refile, scopeNow, adopt, detail };

  /** Counts per map cell instead of vehicles: the client's vehicles are dropped (`gone`), then a `cl` frame. */
  const subscribeClusters = (s: SubscriberState, grant: Grant, sub: Subscription): void => {
    for (const id of s.seen) s.gone.add(id);
    s.seen.clear();
    s.pending.clear();
    s.events = [];
    if (s.gone.size > 0) {
      send(s, { t: 'gone', seq: ++s.seq, ids: [...s.gone] }, 'gone');
      s.gone.clear();
    }
    s.clusters = new ClusterGrid(sub.zoom as number);
    fillClusters(s.clusters, grant, sub);
    sendClusters(s, s.clusters, Date.now());
    s.session?.subscribed(sub, s.seen, s.seq);
  };

  const fillClusters = (grid: ClusterGrid, grant: Grant, sub: Subscription): void => {
    const vehicles = scopeNow(grant, sub);
    const inScopeNow = new Set<string>();
    for (const v of vehicles) {
      inScopeNow.add(v.id);
      grid.place(v.id, v.lat, v.lon);
    }
    for (const id of grid.ids()) if (!inScopeNow.has(id)) grid.remove(id);
  };

  const sendClusters = (s: SubscriberState, grid: ClusterGrid, now: number): void => {
    send(s, { t: 'cl', seq: ++s.seq, cells: grid.cells() }, 'cl');
    s.clustersDueAt = now + clusterFlushMs;
  };

  const onFrame = async (s: SubscriberState, data: Uint8Array, isBinary: boolean): Promise<void> => {
    const now = Date.now();
    if (!frameRate.take(now)) {
      fail(s, 'RATE_LIMITED', `more than ${frameRate.perSecond} frames per second (WS_MAX_FRAMES_PER_SEC)`, CloseCodes.RATE_LIMITED);
      return;
    }
    let frame: unknown;
    try {
      frame = isBinary ? deps.decode(data) : JSON.parse(Buffer.from(data).toString('utf8'));
    } catch {
      fail(s, 'BAD_FRAME', 'the frame is not valid MessagePack');
      return;
    }
    if (typeof frame !== 'object' || frame === null || Array.isArray(frame) || typeof (frame as { t?: unknown }).t !== 'string') {
      fail(s, 'BAD_FRAME', 'a frame must be a map with a string field `t`');
      return;
    }
    const f = frame as Record<string, unknown>;
    if (f.t === 'auth') {
      if (typeof f.token !== 'string') return fail(s, 'AUTH_REQUIRED', 'auth frame needs a string token');
      return s.grant === undefined ? authenticate(s, f.token) : reauthenticate(s, f.token);
    }
    if (s.grant === undefined) return fail(s, 'AUTH_REQUIRED', 'authenticate first: {t:"auth", token}');
    try {
      switch (f.t) {
        case 'sub':
          if (!subRate.take(now)) return fail(s, 'SUBSCRIPTION_RATE_LIMITED', `more than ${subRate.perSecond} subscription changes per second (WS_MAX_SUBS_PER_SEC): this one is refused, the current subscription stays`);
          return subscribe(s, f);
        case 'unsub':
          s.sub = null;
          refile(s);
          s.seen.clear();
          s.pending.clear();
          s.gone.clear();
          send(s, { t: 'unsubbed', seq: ++s.seq }, 'unsubbed');
          return s.session?.subscribed(null, s.seen, s.seq);
        case 'resume': return await resumeStream(s, f, resumeContext);
        case 'ping': return send(s, { t: 'pong', ts: now }, 'pong');
        default: return fail(s, 'BAD_FRAME', `unknown frame type ${JSON.stringify(f.t).slice(0, 40)}`);
      }
    } catch (e) {
      if (e instanceof FleetlineError) return fail(s, e.code, e.message);
      throw e;
    }
  };

  /** The hub's call: changes wait in the inbox; the actor is woken only if no flush comes soon enough for them. */
  const receive = (s: SubscriberState, updates: Update[], events: VehicleEvent[]): void => {
    if (s.closed) return;
    const inbox = s.inbox;
    inbox.batches.push({ updates, events });
    if (inbox.woken) return;
    const flushSoon = s.flushTimer !== null && s.flushAt <= Date.now() + (deps.pace?.ms ?? deps.options.flushMs);
    if (flushSoon && events.length === 0 && !updates.some(isUrgent)) return;
    inbox.woken = true;
    dispatch(self, { kind: 'deliver' });
  };

  /** Applies what the hub delivered since the actor last ran, in the order it came. */
  const applyInbox = (s: SubscriberState): void => {
    const inbox = s.inbox;
    if (inbox.batches.length === 0) return;
    const batches = inbox.batches;
    inbox.batches = [];
    onDeliver(s, batches);
  };

  const onDeliver = (s: SubscriberState, batches: readonly Delivery[]): void => {
    const sub = s.sub;
    if (sub === null || s.grant === undefined) return;
    if (s.clusters !== null) return deliverClusters(s, sub, s.grant, s.clusters, batches);
    for (const { updates, events } of batches) {
      applyUpdates(s, sub, s.grant, updates);
      for (const e of events) if (s.seen.has(e.vehicleId)) s.events.push(e);
    }
    // Events and alarms go out now, not at the next flush.
    if (s.events.length > 0 || s.pending.count('urgent') > 0) corked(() => sendUrgent(s));
    scheduleFlush(s);
  };

  const applyUpdates = (s: SubscriberState, sub: Subscription, grant: Grant, updates: readonly Update[]): void => {
    for (const u of updates) {
      const wasSeen = s.seen.has(u.id);
      if (u.view !== null && inScope(sub, grant, u.view, deps.membership)) {
        if (wasSeen) {
          s.pending.change(u, sub.fields);
          continue;
        }
        s.seen.add(u.id);
        s.gone.delete(u.id);
        s.pending.enter(u);
      } else if (wasSeen) {
        s.seen.delete(u.id);
        s.pending.delete(u.id);
        s.rateLimit?.forget(u.id);
        s.gone.add(u.id);
      }
    }
  };

  const deliverClusters = (s: SubscriberState, sub: Subscription, grant: Grant, grid: ClusterGrid, batches: readonly Delivery[]): void => {
    for (const { updates, events } of batches) {
      for (const u of updates) {
        if (u.view !== null && inScope(sub, grant, u.view, deps.membership)) grid.place(u.id, u.view.lat, u.view.lon);
        else grid.remove(u.id);
      }
      for (const e of events) if (grid.has(e.vehicleId)) s.events.push(e);
    }
    if (s.events.length > 0) corked(() => sendUrgent(s));
    scheduleFlush(s);
  };

  /** Events and urgent entries: never held back for a slow client (the hard limit closes it instead). */
  const sendUrgent = (s: SubscriberState): void => {
    if (s.events.length > 0) {
      send(s, { t: 'ev', seq: ++s.seq, e: s.events }, 'ev');
      s.events = [];
    }
    const urgent = s.pending.takeUrgent();
    if (urgent.length > 0) sendEntries(s, urgent, Date.now());
  };

  const sendEntries = (s: SubscriberState, entries: readonly PendingEntry[], now: number): void => {
    const fields = s.sub?.fields ?? 'full';
    for (const e of entries) {
      deps.metrics.deliveryLatency((now - e.receivedAt) / 1000);
      s.rateLimit?.sent(e.id, now);
    }
    const frames = deps.frames;
    if (frames !== undefined) {
      const seq = ++s.seq;
      sendBytes(s, frames.deltaFrame(seq, entries.map((e) => pendingBytes(e, fields, frames))), 'd', { t: 'd', seq });
    }
    else send(s, { t: 'd', seq: ++s.seq, u: entries.map((e) => pendingValue(e, fields)) }, 'd');
  };

  const flush = (s: SubscriberState): void => {
    if (s.flushTimer) clearTimeout(s.flushTimer);
    s.flushTimer = null;
    if (s.closed) return;
    corked(() => flushNow(s));
    scheduleFlush(s);
  };

  /**
   * Urgent first; then, as the backlog allows (delivery-priority.ts): `gone`, cell counts,
   * moving vehicles, and stopped ones when their slower timer is due.
   */
  const flushNow = (s: SubscriberState): void => {
    sendUrgent(s);
    const now = Date.now();
    const classes = sendableClasses(conn.bufferedAmount(), deps.options.maxBufferedBytes, now >= s.stoppedDueAt);
    if (classes === null) {
      deps.metrics.flushDeferred();
      return;
    }
    if (s.gone.size > 0) {
      send(s, { t: 'gone', seq: ++s.seq, ids: [...s.gone] }, 'gone');
      s.gone.clear();
    }
    if (s.clusters !== null && s.sub !== null && s.clusters.dirty && now >= s.clustersDueAt) sendClusters(s, s.clusters, now);
    if (s.pending.size === 0) return;
    const rate = s.rateLimit;
    const entries = s.pending.take(classes, rate === null ? undefined : (id) => rate.ready(id, now));
    if (entries.some((e) => e.priority === 'stopped')) s.stoppedDueAt = now + stoppedFlushMs;
    if (entries.length > 0) sendEntries(s, entries, now);
  };

  const self: Ref<SubscriberMsg> = spawn(parent, async (s: SubscriberState, msg: SubscriberMsg): Promise<SubscriberState> => {
    if (s.closed) return s;
    // Changes delivered before this message are applied before it, as if each had been a message of its own.
    if (msg.kind === 'deliver') s.inbox.woken = false;
    if (msg.kind !== 'open') applyInbox(s);
    switch (msg.kind) {
      case 'open':
        if (msg.token !== undefined) await authenticate(s, msg.token);
        else s.authTimer = setTimeout(() => {
          if (s.grant === undefined && !s.closed) {
            fail(s, 'AUTH_REQUIRED', `no auth frame within ${deps.options.authTimeoutMs} ms`, CloseCodes.AUTH_TIMEOUT);
          }
        }, deps.options.authTimeoutMs);
        break;
      case 'frame': await onFrame(s, msg.data, msg.isBinary); break;
      case 'deliver': break;
      case 'flush': flush(s); break;
      case 'expired': onExpired(s); break;
      case 'taken':
        conn.close(CloseCodes.NORMAL, 'the session was resumed on another connection');
        shutdown(s);
        break;
      case 'closed': shutdown(s); break;
    }
    return s;
  }, name, { initialState: initial, onCrash: (_m, _e, ctx) => ctx.resume });
  return self;
}

/** An alarm started or ended: it goes out at once, not at the next flush (delivery-priority.ts). */
function isUrgent(u: Update): boolean {
  return u.delta !== null && u.delta.alerts !== undefined;
}

/** Whether `next` grants nothing beyond `current` (null: everything). */
function grantWithin(next: Grant, current: Grant): boolean {
  if (current === null) return true;
  if (next === null) return false;
  for (const c of next) if (!current.has(c)) return false;
  return true;
}

function sameGrant(a: Grant, b: Grant): boolean {
  if (a === null || b === null) return a === b;
  return a.size === b.size && grantWithin(a, b);
}
