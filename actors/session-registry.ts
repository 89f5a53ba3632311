import { randomBytes } from 'node:crypto';
import type { Grant } from './ports/client-connection.js';
import type { EngineMetrics } from './ports/engine-metrics.js';
import type { Logger } from './ports/logger.js';
import type { SessionRecord, SessionStore } from './ports/session-store.js';
import type { RecentChanges } from './recent-changes.js';
import { newSessionId, StreamSession } from './stream-session.js';

export interface SessionRegistryOptions {
  /** Sessions live this long after their last save (WS_SESSION_TTL_S). */
  readonly ttlMs: number;
  /** Most events a session keeps for a resume (WS_SESSION_EVENTS). */
  readonly maxEvents: number;
  /** How often the node writes its sessions' changes, in one batch (WS_SESSION_SAVE_MS). */
  readonly saveEveryMs: number;
}

/** How long a resume waits for a session still held by a connection on another node to be let go. */
const DETACH_WAIT_MS = 2_000;
const DETACH_POLL_MS = 100;

/**
 * The stream sessions of this node's connections: creates them, saves what changed in one batch
 * every `saveEveryMs` (a client's frames never cost a store write each), saves a session at
 * once when its connection ends, and hands a stored session to the connection that resumes it.
 */
export class SessionRegistry {
  private readonly live = new Map<string, StreamSession>();
  private readonly timer: NodeJS.Timeout;
  private saving: Promise<void> = Promise.resolve();
  private detached: StreamSession[] = [];
  private detachedWrite: Promise<void> | null = null;

  constructor(
    readonly store: SessionStore,
    readonly recent: RecentChanges,
    readonly options: SessionRegistryOptions,
    private readonly metrics: Pick<EngineMetrics, 'sessionsSaved'>,
    private readonly log: Logger,
  ) {
    this.timer = setInterval(() => { void this.flush(); }, options.saveEveryMs);
    this.timer.unref();
  }

  get size(): number {
    return this.live.size;
  }

  /** A new session (epoch 1) for a connection that authenticated. */
  open(grant: Grant): StreamSession {
    const s = new StreamSession(newSessionId(), grant, ownerId(), this.options.maxEvents);
    s.seen.maxLeft = this.options.maxEvents;
    this.live.set(s.id, s);
    return s;
  }

  /** Forgets a session never used (a connection that resumed another one instead). */
  discard(s: StreamSession): void {
    if (this.live.get(s.id) === s) this.live.delete(s.id);
  }

  /**
   * The connection ended: the session is saved at once (with the others that ended in the same
   * turn: a node closing 10k sockets writes one batch), marked detached, and lives on for the TTL.
   */
  detach(s: StreamSession): Promise<void> {
    if (this.live.get(s.id) !== s) return Promise.resolve();
    this.live.delete(s.id);
    if (s.taken) return Promise.resolve();
    s.detachedAt = Date.now();
    this.detached.push(s);
    this.detachedWrite ??= new Promise<void>((resolve) => setImmediate(() => {
      const batch = this.detached;
      this.detached = [];
      this.detachedWrite = null;
      void this.write(batch).then(resolve);
    }));
    return this.detachedWrite;
  }

  /**
   * The stored session `id`, claimed for a new connection under `grant`; null when it is unknown,
   * expired, or belongs to another grant (the new one must be the same or narrower). A session
   * still held by a connection here is taken from it; one held on another node is given up to
   * DETACH_WAIT_MS to be let go (its connection's end saves its last frames).
   */
  async claim(id: string, grant: Grant, clientSeq: number): Promise<{ session: StreamSession; record: SessionRecord } | null> {
    const local = this.live.get(id);
    if (local !== undefined) {
      if (!grantWithin(grant, local.grant)) return null;
      // Its connection stops sending at once; what it sent so far is saved before the claim.
      this.live.delete(id);
      local.taken = true;
      local.onTaken();
      local.detachedAt = Date.now();
      await this.write([local]);
    }
    let record = await this.store.load(id);
    for (let waited = 0; record !== null && record.meta.detachedAt === null && clientSeq > record.meta.seq && waited < DETACH_WAIT_MS; waited += DETACH_POLL_MS) {
      await new Promise((r) => setTimeout(r, DETACH_POLL_MS));
      record = await this.store.load(id);
    }
    if (record === null || !grantWithin(grant, record.meta.grant === null ? null : new Set(record.meta.grant))) return null;
    const owner = ownerId();
    const claimed = await this.store.claim(id, owner);
    if (claimed === null) return null;
    const session = StreamSession.restore(claimed, owner, grant, this.options.maxEvents);
    this.live.set(id, session);
    return { session, record: claimed };
  }

  /** Writes every session with changes, and renews the TTL of those idle for a third of it. */
  flush(): Promise<void> {
    const now = Date.now();
    const due = [...this.live.values()].filter((s) => s.dirty || now - s.savedAt > this.options.ttlMs / 3);
    return this.write(due);
  }

  private write(sessions: StreamSession[]): Promise<void> {
    if (sessions.length === 0) return this.saving;
    const batch = sessions.map((s) => s.takeSave());
    const done = this.saving.then(() => this.store.save(batch)).then((claimed) => {
      this.metrics.sessionsSaved(batch.length);
      for (const s of sessions) {
        if (!claimed.has(s.id) || s.taken) continue;
        // Another connection (here or on another node) resumed it: this one must end.
        s.taken = true;
        this.live.delete(s.id);
        s.onTaken();
      }
    }, (e: Error) => {
      for (const s of sessions) s.saveFailed();
      this.log.warn({ err: e.message, sessions: sessions.length }, 'stream sessions not saved; retried at the next save');
    });
    this.saving = done;
    return done;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.detachedWrite;
    await this.flush();
    await this.store.close();
  }
}

function ownerId(): string {
  return randomBytes(9).toString('base64url');
}

/** Whether `next` grants nothing beyond `current` (null: everything). */
export function grantWithin(next: Grant, current: Grant): boolean {
  if (current === null) return true;
  if (next === null) return false;
  for (const c of next) if (!current.has(c)) return false;
  return true;
}
