import type { SessionEvent, SessionMeta, SessionRecord, SessionSave, SessionStore } from '../../actors/ports/session-store.js';

interface Entry {
  owner: string;
  meta: SessionMeta;
  seen: Set<string>;
  events: SessionEvent[];
  expiresAt: number;
}

/**
 * Sessions in this process's memory (no REDIS_URL): a client resumes on the node it left, and a
 * restart forgets every session. Same semantics as the Redis store: owner fencing, TTL, bounded
 * event buffer, writes applied as differences.
 */
export class MemorySessionStore implements SessionStore {
  readonly kind = 'memory' as const;
  private readonly sessions = new Map<string, Entry>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly options: { ttlMs: number; maxEvents: number }) {
    this.sweeper = setInterval(() => this.sweep(), Math.min(60_000, options.ttlMs));
    this.sweeper.unref();
  }

  save(batch: readonly SessionSave[]): Promise<Set<string>> {
    const claimed = new Set<string>();
    const now = Date.now();
    for (const s of batch) {
      let e = this.live(s.meta.id, now);
      if (e !== undefined && e.owner !== s.owner) {
        claimed.add(s.meta.id);
        continue;
      }
      if (e === undefined) {
        e = { owner: s.owner, meta: s.meta, seen: new Set(), events: [], expiresAt: 0 };
        this.sessions.set(s.meta.id, e);
      }
      // A save's meta is built afresh for it (its gone log an immutable copy) but for `marks`,
      // the session's own array, which it keeps appending to: a deep clone of every session's
      // meta every second cost more than the rest of the save.
      e.meta = { ...s.meta, marks: s.meta.marks.slice() };
      if ('replace' in s.seen) e.seen = new Set(s.seen.replace);
      else {
        for (const id of s.seen.add) e.seen.add(id);
        for (const id of s.seen.remove) e.seen.delete(id);
      }
      e.events = 'replace' in s.events ? [...s.events.replace] : e.events.concat(s.events.append);
      if (e.events.length > this.options.maxEvents) e.events.splice(0, e.events.length - this.options.maxEvents);
      e.expiresAt = now + this.options.ttlMs;
    }
    return Promise.resolve(claimed);
  }

  load(id: string): Promise<SessionRecord | null> {
    const e = this.live(id, Date.now());
    return Promise.resolve(e === undefined ? null : { meta: structuredClone(e.meta), seen: new Set(e.seen), events: [...e.events] });
  }

  async claim(id: string, owner: string): Promise<SessionRecord | null> {
    const e = this.live(id, Date.now());
    if (e === undefined) return null;
    e.owner = owner;
    e.expiresAt = Date.now() + this.options.ttlMs;
    return this.load(id);
  }

  close(): Promise<void> {
    clearInterval(this.sweeper);
    return Promise.resolve();
  }

  private live(id: string, now: number): Entry | undefined {
    const e = this.sessions.get(id);
    if (e === undefined || e.expiresAt > now || e.expiresAt === 0) return e;
    this.sessions.delete(id);
    return undefined;
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, e] of this.sessions) if (e.expiresAt <= now) this.sessions.delete(id);
  }
}
