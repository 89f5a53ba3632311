import type { VehicleEvent } from '../domain/vehicle-event.js';

/**
 * Where stream sessions live between connections (docs/protocol.md, Resume): Redis with a TTL
 * when REDIS_URL is set, so a client may resume on any node; process memory otherwise.
 */

/** The small part of a session, rewritten whole at each save. */
export interface SessionMeta {
  readonly id: string;
  /** The companies the session's token granted, sorted; null for admin. A resume may only narrow it. */
  readonly grant: readonly string[] | null;
  readonly epoch: number;
  /** The last seq sent in this epoch. */
  readonly seq: number;
  /** The subscription as the fields of a `sub` frame; null when there is none. */
  readonly sub: Record<string, unknown> | null;
  /** When the subscription began (ms): no event before it is owed to the client. */
  readonly subscribedAt: number;
  /** A resume from a seq below this cannot be served (a subscription change, a dropped gone entry). */
  readonly floor: number;
  /**
   * Sampled [seq, watermark] pairs, oldest first: every update received by the engine before
   * `watermark` (ms) is in the frames up to `seq`. "Changed since seq N" is "received since the
   * watermark of the last mark at or before N".
   */
  readonly marks: readonly (readonly [number, number])[];
  /** Vehicles that left the scope: [id, seq of the gone frame that said so, or PENDING_GONE]. */
  readonly gone: readonly (readonly [string, number])[];
  /** The newest event dropped from the bounded buffer: [seq, ms when it was sent]; [0, 0] when none. */
  readonly eventsDropped: readonly [number, number];
  /** When the last connection ended (ms); null while a connection holds the session. */
  readonly detachedAt: number | null;
  readonly savedAt: number;
}

/** Not yet sent: the vehicle left the scope and its gone frame is still pending. */
export const PENDING_GONE = Number.MAX_SAFE_INTEGER;

/** An event the session sent, with the seq of its `ev` frame and when it went out. */
export interface SessionEvent {
  readonly seq: number;
  readonly at: number;
  readonly e: VehicleEvent;
}

export interface SessionRecord {
  readonly meta: SessionMeta;
  /** The vehicles the session's client holds (as of the save). */
  readonly seen: ReadonlySet<string>;
  /** The last sent events, oldest first (at most WS_SESSION_EVENTS). */
  readonly events: readonly SessionEvent[];
}

/** One session's changes since its last save: a save never rewrites what did not change. */
export interface SessionSave {
  readonly owner: string;
  readonly meta: SessionMeta;
  readonly seen: { readonly replace: readonly string[] } | { readonly add: readonly string[]; readonly remove: readonly string[] };
  readonly events: { readonly replace: readonly SessionEvent[] } | { readonly append: readonly SessionEvent[] };
}

export interface SessionStore {
  readonly kind: 'redis' | 'memory';
  /**
   * Writes every session of the batch (one round trip) and renews its TTL; a session another
   * connection claimed meanwhile is left as it is. Resolves with the ids of those.
   */
  save(batch: readonly SessionSave[]): Promise<Set<string>>;
  /** The session, or null when it is unknown or expired. */
  load(id: string): Promise<SessionRecord | null>;
  /** Makes `owner` the session's only writer and returns the session (null: unknown or expired). */
  claim(id: string, owner: string): Promise<SessionRecord | null>;
  close(): Promise<void>;
}
