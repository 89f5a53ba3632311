import type { Logger } from 'pino';
import { decodeJson, decodeMsgpack, encodeMsgpack } from '../../adapters/codec/msgpack-codec.js';
import { CloseCodes, FleetlineError } from '../../actors/domain/errors.js';
import type { VehicleView } from '../../actors/domain/vehicle-state.js';
import type { Grant, TokenVerifier } from '../../actors/ports/client-connection.js';
import type { WsConnection, WsSession } from '../../actors/ports/transport.js';
import { inScope, parseSubscription, type Subscription } from '../../actors/subscription.js';
import type { SubscriptionMap } from './subscription-map.js';
import type { UpdateMessage } from './point-batch.js';

export interface FanoutClientDeps {
  readonly auth: TokenVerifier;
  readonly map: SubscriptionMap<FanoutClient>;
  readSnapshot(grant: Grant, sub: Subscription): Promise<VehicleView[]>;
  /** The client has something to flush at the next tick. */
  markDirty(client: FanoutClient): void;
  readonly snapshotLimit: number;
  readonly maxBufferedBytes: number;
  readonly authTimeoutMs: number;
  readonly log: Logger;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * One WebSocket connection of the fanout service, speaking Fleetline's stream protocol
 * (docs/protocol.md): auth, sub/unsub/ping, then snap, coalesced `d`, `gone` and `ev` frames
 * with a continuous seq. Frames from the client are handled one at a time, in order.
 */
export class FanoutClient implements WsSession {
  grant: Grant = null;
  subscription: Subscription | null = null;
  private authed = false;
  private open = true;
  private seq = 0;
  /** ts of the view the client holds, per vehicle in scope. */
  private readonly seen = new Map<string, number>();
  private readonly pending = new Map<string, Record<string, unknown>>();
  private readonly gone = new Set<string>();
  private events: unknown[] = [];
  private snapshotting = false;
  /** Vehicles that left the scope while the snapshot was read, with the ts they left at. */
  private readonly leftDuringSnapshot = new Map<string, number>();
  private chain: Promise<void> = Promise.resolve();
  private authTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;

  constructor(private readonly conn: WsConnection, private readonly deps: FanoutClientDeps, token: string | null) {
    if (token !== null) this.enqueueWork(() => this.authenticate(token));
    else this.authTimer = setTimeout(() => this.close(CloseCodes.AUTH_TIMEOUT, 'no auth frame'), deps.authTimeoutMs);
  }

  message(data: Uint8Array, isBinary: boolean): void {
    this.enqueueWork(() => this.handle(data, isBinary));
  }

  drain(): void {
    if (this.pending.size > 0 || this.gone.size > 0 || this.events.length > 0) this.deps.markDirty(this);
  }

  closed(): void {
    this.open = false;
    this.deps.map.remove(this);
    clearTimeout(this.authTimer);
    clearTimeout(this.expiryTimer);
  }

  /** An update of a vehicle this client's subscription may match (SubscriptionMap decided the company). */
  offer(msg: UpdateMessage): void {
    const sub = this.subscription;
    if (sub === null) return;
    const v = msg.v;
    if (!inScope(sub, this.grant, v)) {
      if (this.snapshotting) this.leftDuringSnapshot.set(v.id, v.ts);
      if (this.seen.delete(v.id)) {
        this.pending.delete(v.id);
        this.gone.add(v.id);
        this.deps.markDirty(this);
      }
      return;
    }
    if (this.snapshotting) this.leftDuringSnapshot.delete(v.id);
    const known = this.seen.get(v.id);
    if (known !== undefined && known >= v.ts) return;
    const entry = this.pending.get(v.id);
    // A delta only applies to the view it was computed from: anything else gets the full view.
    if (known === undefined || known !== msg.p) this.pending.set(v.id, { ...v });
    else if (entry !== undefined) Object.assign(entry, msg.d);
    else this.pending.set(v.id, { ...msg.d });
    this.gone.delete(v.id);
    this.seen.set(v.id, v.ts);
    if (msg.e !== undefined) this.events.push(...msg.e);
    this.deps.markDirty(this);
  }

  /** Sends what coalesced since the last flush, unless the socket is backed up (then it keeps coalescing). */
  flush(): void {
    if (!this.open || this.snapshotting || this.subscription === null) return;
    if (this.conn.bufferedAmount() > this.deps.maxBufferedBytes) return;
    if (this.pending.size > 0) {
      this.send({ t: 'd', seq: ++this.seq, u: [...this.pending.values()] });
      this.pending.clear();
    }
    if (this.gone.size > 0) {
      this.send({ t: 'gone', seq: ++this.seq, ids: [...this.gone] });
      this.gone.clear();
    }
    if (this.events.length > 0) {
      this.send({ t: 'ev', seq: ++this.seq, e: this.events });
      this.events = [];
    }
  }

  private enqueueWork(work: () => Promise<void>): void {
    this.chain = this.chain.then(work).catch((e: Error) => this.deps.log.warn({ err: e.message }, 'fanout client frame failed'));
  }

  private async handle(data: Uint8Array, isBinary: boolean): Promise<void> {
    if (!this.open) return;
    let frame: unknown;
    try {
      frame = isBinary ? decodeMsgpack(data) : decodeJson(data);
    } catch {
      return this.error('BAD_FRAME', 'not MessagePack (binary) or JSON (text)');
    }
    if (typeof frame !== 'object' || frame === null || typeof (frame as { t?: unknown }).t !== 'string') return this.error('BAD_FRAME', 'a map with a string `t` expected');
    const f = frame as Record<string, unknown> & { t: string };
    if (f.t === 'auth') return typeof f.token === 'string' ? this.authenticate(f.token) : this.error('BAD_FRAME', 'auth needs a token');
    if (!this.authed) return this.error('BAD_FRAME', 'authenticate first');
    switch (f.t) {
      case 'sub': {
        let sub: Subscription;
        try {
          sub = parseSubscription(f);
        } catch (e) {
          return this.error((e as FleetlineError).code ?? 'BAD_SUBSCRIPTION', (e as Error).message);
        }
        return this.subscribe(sub);
      }
      case 'unsub':
        this.reset(null);
        this.deps.map.remove(this);
        this.send({ t: 'unsubbed', seq: ++this.seq });
        return;
      case 'ping':
        this.send({ t: 'pong', ts: Date.now() });
        return;
      default:
        return this.error('BAD_FRAME', `unknown frame type ${f.t}`);
    }
  }

  private async authenticate(token: string): Promise<void> {
    try {
      const session = await this.deps.auth.verifySession(token);
      if (this.authed && !sameGrant(this.grant, session.grant)) return this.error('FORBIDDEN', 'the baseline renews a stream only with a token of the same grant');
      clearTimeout(this.authTimer);
      this.grant = session.grant;
      this.authed = true;
      clearTimeout(this.expiryTimer);
      this.expiryTimer = setTimeout(() => {
        this.error('TOKEN_EXPIRED', 'the token expired');
        this.close(CloseCodes.TOKEN_EXPIRED, 'token expired');
      }, Math.min(MAX_TIMER_MS, Math.max(0, session.expiresAt - Date.now())));
      this.send({ t: 'ready', companies: session.grant === null ? null : [...session.grant], expiresAt: session.expiresAt });
    } catch (e) {
      this.error('BAD_TOKEN', (e as Error).message);
      if (!this.authed) this.close(CloseCodes.BAD_TOKEN, 'bad token');
    }
  }

  private async subscribe(sub: Subscription): Promise<void> {
    this.reset(sub);
    this.snapshotting = true;
    this.deps.map.set(this);
    let views: VehicleView[];
    try {
      views = await this.deps.readSnapshot(this.grant, sub);
    } finally {
      this.snapshotting = false;
    }
    if (!this.open) return;
    // Updates that arrived while the snapshot was read are newer than it or not: keep the newer.
    const byId = new Map(views.map((v) => [v.id, v]));
    for (const [id, ts] of this.leftDuringSnapshot) {
      const v = byId.get(id);
      if (v !== undefined && v.ts <= ts) byId.delete(id);
    }
    for (const [id, entry] of this.pending) {
      const v = byId.get(id);
      if (v === undefined || v.ts < (entry.ts as number)) byId.set(id, entry as unknown as VehicleView);
    }
    this.pending.clear();
    this.gone.clear();
    this.seen.clear();
    this.leftDuringSnapshot.clear();
    const vehicles = [...byId.values()].slice(0, this.deps.snapshotLimit);
    for (const v of vehicles) this.seen.set(v.id, v.ts);
    this.send({ t: 'snap', seq: ++this.seq, vehicles });
    if (this.events.length > 0) this.deps.markDirty(this);
  }

  private reset(sub: Subscription | null): void {
    this.subscription = sub;
    this.seen.clear();
    this.pending.clear();
    this.gone.clear();
    this.leftDuringSnapshot.clear();
    this.events = [];
  }

  private error(code: string, msg: string): void {
    this.send({ t: 'err', code, msg });
  }

  private send(frame: Record<string, unknown>): void {
    if (this.open) this.conn.send(encodeMsgpack(frame));
  }

  private close(code: number, reason: string): void {
    if (!this.open) return;
    this.conn.close(code, reason);
  }
}

function sameGrant(a: Grant, b: Grant): boolean {
  if (a === null || b === null) return a === b;
  return a.size === b.size && [...a].every((c) => b.has(c));
}
