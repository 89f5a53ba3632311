import type { VehicleEvent } from './domain/vehicle-event.js';
import type { VehicleView } from './domain/vehicle-state.js';
import type { Grant } from './ports/client-connection.js';
import { granted } from './ports/state-index.js';
import type { SessionRecord } from './ports/session-store.js';
import type { RecentChanges } from './recent-changes.js';

export type ResumeReason = 'GAP_TOO_LARGE' | 'EPOCH_CHANGED' | 'UNKNOWN_SESSION';

/**
 * How far "changed since" and "the events since the connection ended" reach back beyond the
 * recorded times: the delay of a change between nodes (replication through Kafka) and the clock
 * skew between them. Sending a vehicle or an event the client already holds costs nothing (a
 * snap entry merges; events seen are recognised by id in the buffer); missing one breaks the map.
 */
export const RESUME_SLACK_MS = 5_000;

export type ResumePlan =
  | { readonly served: true; readonly changed: VehicleView[]; readonly gone: string[]; readonly events: VehicleEvent[] }
  | { readonly served: false; readonly reason: Exclude<ResumeReason, 'UNKNOWN_SESSION'> };

export interface ResumeInput {
  readonly record: SessionRecord;
  /** The last seq the client applied, and its epoch when it says. */
  readonly seq: number;
  readonly epoch?: number;
  /** The restored subscription's scope now, under the new token's grant. */
  readonly scope: readonly VehicleView[];
  readonly grant: Grant;
  readonly recent: RecentChanges;
  readonly slackMs?: number;
}

/**
 * What a client that applied frames up to `seq` lacks, or why that cannot be told:
 *
 * - changed: every vehicle in scope now that the client did not hold, or that changed since the
 *   watermark of `seq` (every update received before it was in the frames up to `seq`), as
 *   its latest state;
 * - gone: vehicles the client may hold that are out of scope now (held at the last save, or
 *   left in a gone frame the client did not apply);
 * - events: the buffered events of frames after `seq`, then those delivered to this node since
 *   the connection ended that no frame carried, once each and in order.
 */
export function planResume(input: ResumeInput): ResumePlan {
  const { record, seq, recent } = input;
  const m = record.meta;
  const slack = input.slackMs ?? RESUME_SLACK_MS;
  if (input.epoch !== undefined && input.epoch !== m.epoch) return { served: false, reason: 'EPOCH_CHANGED' };
  // The stored numbering is behind the client's: the node that held it stopped before saving.
  if (seq > m.seq) return { served: false, reason: 'EPOCH_CHANGED' };
  if (seq < m.floor || m.eventsDropped[0] > seq) return { served: false, reason: 'GAP_TOO_LARGE' };
  let watermark = -Infinity;
  if (seq > 0) {
    const mark = [...m.marks].reverse().find((x) => x[0] <= seq);
    if (mark === undefined) return { served: false, reason: 'GAP_TOO_LARGE' };
    watermark = mark[1];
  }
  const since = watermark - slack;
  const eventsFrom = Math.max((m.detachedAt ?? m.savedAt) - slack, m.subscribedAt);
  // This node must have seen every change and event since then (it ran, its ring kept them), and
  // the buffer must hold every event sent since then, to recognise those the client had.
  if (watermark < recent.startedAt && seq > 0) return { served: false, reason: 'GAP_TOO_LARGE' };
  if ((m.detachedAt ?? m.savedAt) < recent.startedAt) return { served: false, reason: 'GAP_TOO_LARGE' };
  if (!recent.eventsCompleteSince(eventsFrom) || m.eventsDropped[1] >= eventsFrom) return { served: false, reason: 'GAP_TOO_LARGE' };

  const inScope = new Set<string>();
  const changed: VehicleView[] = [];
  for (const v of input.scope) {
    inScope.add(v.id);
    if (!record.seen.has(v.id) || (recent.changedAt(v.id) ?? -Infinity) >= since) changed.push(v);
  }
  const gone = new Set<string>();
  for (const id of record.seen) if (!inScope.has(id)) gone.add(id);
  for (const [id, goneSeq] of m.gone) if (goneSeq > seq && !inScope.has(id)) gone.add(id);

  const events: VehicleEvent[] = [];
  const sent = new Set<string>();
  for (const b of record.events) {
    sent.add(b.e.id);
    if (b.seq > seq && granted(input.grant, b.e.company)) events.push(b.e);
  }
  for (const e of recent.eventsSince(eventsFrom)) {
    if (sent.has(e.id) || !granted(input.grant, e.company)) continue;
    if (!record.seen.has(e.vehicleId) && !inScope.has(e.vehicleId)) continue;
    sent.add(e.id);
    events.push(e);
  }
  return { served: true, changed, gone: [...gone], events };
}
