import { randomBytes } from 'node:crypto';
import type { VehicleEvent } from './domain/vehicle-event.js';
import type { Grant } from './ports/client-connection.js';
import { PENDING_GONE, type SessionEvent, type SessionMeta, type SessionRecord, type SessionSave } from './ports/session-store.js';
import type { Subscription } from './subscription.js';

/** Marks (seq → watermark) are sampled at most this often, and this many kept. */
const MARK_EVERY_MS = 250;
const MAX_MARKS = 64;

/** A Map that counts its changes, so that a copy of it is made again only when it changed. */
export class CountedMap<K, V> extends Map<K, V> {
  changes = 0;

  override set(key: K, value: V): this {
    this.changes++;
    return super.set(key, value);
  }

  override delete(key: K): boolean {
    if (!super.delete(key)) return false;
    this.changes++;
    return true;
  }

  override clear(): void {
    this.changes++;
    super.clear();
  }
}

/**
 * The vehicles a client holds, recording what changed since the last save (so a save writes
 * only the difference) and which ones left (the session's gone log, kept until a resume can no
 * longer need it). The subscriber actor uses it as its plain `seen` set.
 */
export class SeenSet extends Set<string> {
  /** Since the last save: true added, false removed. */
  changes = new Map<string, boolean>();
  /** The whole set must be written (new, cleared). */
  replaced = true;
  /** Vehicles that left, with the seq of the gone frame that said so (PENDING_GONE until it is sent). */
  readonly left = new CountedMap<string, number>();
  /** Most entries of `left`; the session's floor rises past the seq of an entry dropped. */
  maxLeft = 1000;
  droppedLeftSeq = 0;

  constructor(ids: Iterable<string> = []) {
    super();
    for (const id of ids) super.add(id);
  }

  override add(id: string): this {
    if (!super.has(id)) {
      super.add(id);
      this.changes.set(id, true);
      this.left.delete(id);
    }
    return this;
  }

  override delete(id: string): boolean {
    if (!super.delete(id)) return false;
    this.changes.set(id, false);
    this.left.delete(id);
    this.left.set(id, PENDING_GONE);
    if (this.left.size > this.maxLeft) {
      const [oldest, seq] = this.left.entries().next().value as [string, number];
      this.left.delete(oldest);
      this.droppedLeftSeq = Math.max(this.droppedLeftSeq, seq);
    }
    return true;
  }

  override clear(): void {
    super.clear();
    this.changes.clear();
    this.left.clear();
    this.replaced = true;
  }
}

export function newSessionId(): string {
  return randomBytes(18).toString('base64url');
}

/** A subscription as the fields of a `sub` frame (what parseSubscription reads back). */
export function subscriptionFrame(sub: Subscription): Record<string, unknown> {
  const out: Record<string, unknown> = { fields: sub.fields };
  if (sub.vehicles) out.vehicles = [...sub.vehicles];
  if (sub.companies) out.companies = [...sub.companies];
  if (sub.groups) out.groups = [...sub.groups];
  if (sub.bbox) out.bbox = [...sub.bbox];
  if (sub.zoom !== undefined) out.zoom = sub.zoom;
  const filter: Record<string, unknown> = {};
  if (sub.status) filter.status = [...sub.status];
  if (sub.alerts) filter.alerts = true;
  if (sub.types) filter.type = [...sub.types];
  if (Object.keys(filter).length > 0) out.filter = filter;
  if (sub.lod !== undefined) out.lod = typeof sub.lod === 'string' ? sub.lod : { ...sub.lod };
  return out;
}

export function grantList(grant: Grant): string[] | null {
  return grant === null ? null : [...grant].sort();
}

/**
 * One stream session on the node whose connection holds it: the numbering (epoch, seq), what
 * the client holds, sampled watermarks, the bounded buffer of sent events. The subscriber actor
 * reports every sequenced frame (onFrame) and subscription change; the session registry saves
 * what changed, batched (never per frame).
 */
export class StreamSession {
  grant: Grant;
  epoch: number;
  seq = 0;
  sub: Subscription | null = null;
  seen: SeenSet = new SeenSet();
  floor = 0;
  subscribedAt = 0;
  marks: [number, number][] = [];
  events: SessionEvent[] = [];
  /** The last copy of the gone log saved (goneLog()). */
  private goneCopy: { of: CountedMap<string, number>; at: number; gone: [string, number][] } | null = null;
  /** Events appended since the last save; -1: the buffer must be rewritten. */
  private appended = -1;
  eventsDropped: [number, number] = [0, 0];
  private lastMarkAt = 0;
  detachedAt: number | null = null;
  dirty = true;
  savedAt = 0;
  /** Another connection resumed this session: this one must stop. */
  taken = false;
  onTaken: () => void = () => {};

  constructor(readonly id: string, grant: Grant, readonly owner: string, readonly maxEvents: number, epoch = 1) {
    this.grant = grant;
    this.epoch = epoch;
  }

  /** A sequenced frame went out. `watermark` gives the oldest receive time still pending (or now). */
  onFrame(frame: Record<string, unknown>, watermark: () => number, now = Date.now()): void {
    const seq = frame.seq as number;
    this.seq = seq;
    this.dirty = true;
    if (frame.t === 'gone') {
      for (const id of frame.ids as string[]) if (this.seen.left.has(id)) this.seen.left.set(id, seq);
    } else if (frame.t === 'ev') {
      for (const e of frame.e as VehicleEvent[]) this.events.push({ seq, at: now, e });
      if (this.appended >= 0) this.appended += (frame.e as VehicleEvent[]).length;
      if (this.events.length > this.maxEvents) {
        const dropped = this.events.splice(0, this.events.length - this.maxEvents);
        const last = dropped[dropped.length - 1];
        this.eventsDropped = [last.seq, last.at];
      }
    }
    if (now - this.lastMarkAt >= MARK_EVERY_MS || frame.t === 'snap') {
      this.lastMarkAt = now;
      this.marks.push([seq, watermark()]);
      if (this.marks.length > MAX_MARKS) this.marks.shift();
    }
  }

  /** The subscription changed (sub, unsub): a gap from before its frames cannot be served. */
  subscribed(sub: Subscription | null, seen: SeenSet, seq: number): void {
    this.sub = sub;
    this.seen = seen;
    seen.maxLeft = this.maxEvents;
    this.floor = seq;
    this.subscribedAt = Date.now();
    this.dirty = true;
  }

  narrowed(grant: Grant): void {
    this.grant = grant;
    this.dirty = true;
  }

  /** Starts a new epoch (a resume that could not be served): numbering from 1, buffers empty. */
  newEpoch(): void {
    this.epoch++;
    this.seq = 0;
    this.floor = 0;
    this.marks = [];
    this.lastMarkAt = 0;
    this.events = [];
    this.appended = -1;
    this.eventsDropped = [0, 0];
    this.dirty = true;
  }

  /** After a served resume from `seq`: frames after it are superseded by the resume's own. */
  rewindTo(seq: number): void {
    this.seq = seq;
    this.marks = this.marks.filter((m) => m[0] <= seq);
    this.lastMarkAt = 0;
    this.events = this.events.filter((e) => e.seq <= seq);
    this.appended = -1;
    this.dirty = true;
  }

  /**
   * The gone log as saved: copied again only when it changed (a session is saved every second
   * it sends a frame, its log holds up to WS_SESSION_EVENTS vehicles, and it seldom changes).
   * The copy is never mutated: a store may keep it.
   */
  private goneLog(): SessionMeta['gone'] {
    const left = this.seen.left;
    if (this.goneCopy === null || this.goneCopy.of !== left || this.goneCopy.at !== left.changes) {
      this.goneCopy = { of: left, at: left.changes, gone: [...left] };
    }
    return this.goneCopy.gone;
  }

  meta(now: number): SessionMeta {
    return {
      id: this.id, grant: grantList(this.grant), epoch: this.epoch, seq: this.seq,
      sub: this.sub === null ? null : subscriptionFrame(this.sub),
      subscribedAt: this.subscribedAt,
      floor: Math.max(this.floor, this.seen.droppedLeftSeq === PENDING_GONE ? this.seq + 1 : this.seen.droppedLeftSeq),
      marks: this.marks, gone: this.goneLog(), eventsDropped: this.eventsDropped, detachedAt: this.detachedAt, savedAt: now,
    };
  }

  /** What to write now (and forgets the changes it carries). */
  takeSave(now = Date.now()): SessionSave {
    const seen = this.seen;
    const seenSave = seen.replaced
      ? { replace: [...seen] }
      : { add: [...seen.changes].filter(([, a]) => a).map(([id]) => id), remove: [...seen.changes].filter(([, a]) => !a).map(([id]) => id) };
    seen.replaced = false;
    seen.changes.clear();
    const events = this.appended < 0 ? { replace: [...this.events] } : { append: this.events.slice(this.events.length - Math.min(this.appended, this.events.length)) };
    this.appended = 0;
    this.dirty = false;
    this.savedAt = now;
    return { owner: this.owner, meta: this.meta(now), seen: seenSave, events };
  }

  /** The last save failed: the next one rewrites everything. */
  saveFailed(): void {
    this.seen.replaced = true;
    this.appended = -1;
    this.dirty = true;
  }

  /** A session restored from its stored record, now held by `owner` under `grant`. */
  static restore(record: SessionRecord, owner: string, grant: Grant, maxEvents: number): StreamSession {
    const m = record.meta;
    const s = new StreamSession(m.id, grant, owner, maxEvents, m.epoch);
    s.seq = m.seq;
    s.floor = m.floor;
    s.subscribedAt = m.subscribedAt;
    s.marks = m.marks.map((x) => [x[0], x[1]]);
    s.events = [...record.events];
    s.eventsDropped = [m.eventsDropped[0], m.eventsDropped[1]];
    s.seen = new SeenSet(record.seen);
    s.seen.maxLeft = maxEvents;
    for (const [id, seq] of m.gone) s.seen.left.set(id, seq);
    return s;
  }
}
