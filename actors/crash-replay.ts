import type { TelemetryPoint } from './domain/telemetry-point.js';
import type { VehicleEvent } from './domain/vehicle-event.js';
import type { VehicleSnapshot } from './domain/vehicle-state.js';
import { fromSnapshot, newVehicleState, type VehicleState } from './vehicle-logic.js';
import type { VehicleLogic } from './vehicle-actor.js';
import { applyInWindow } from './reorder-window.js';

/**
 * Most stored positions one replay reads. A vehicle sends a few dozen per SNAPSHOT_INTERVAL_MS;
 * this bounds the read of a vehicle without a snapshot (all its history is newer than none).
 */
export const REPLAY_LIMIT = 50_000;

/** Reads of the snapshot and of the history: tried this many times, 0.5 s, 1 s, 2 s… apart. */
const READ_ATTEMPTS = 5;

/** Where a crashed vehicle's state comes back from. */
export interface ReplaySources {
  /** Its last written snapshot (undefined: none). */
  readonly lastSnapshot?: () => Promise<VehicleSnapshot | undefined>;
  /** Its stored positions stamped after `afterTs`, oldest first, the newest `limit` at most. */
  readonly storedPositions?: (afterTs: number, limit: number) => Promise<readonly TelemetryPoint[]>;
  /** The points it accepted that no checkpoint has written yet, copied when it crashed. */
  readonly unwritten: readonly TelemetryPoint[];
  /**
   * Every stored position stamped after this is still kept (the store forgets older ones:
   * MemoryHistoryStore); -Infinity or absent: none was forgotten.
   */
  readonly storedKeptAfter?: () => number;
  /** Between read attempts (tests shorten it). */
  readonly retryDelayMs?: (attempt: number) => number;
}

export interface Recovery {
  readonly state: VehicleState;
  /** The snapshot's newest point: every replayed point is newer (-Infinity: no snapshot). */
  readonly fromTs: number;
  /** Points applied again (accepted by the logic). */
  readonly replayed: number;
  /**
   * Events the replay released from the first unwritten point on, to be sent (again): those of
   * the crashed message never went out. Ids are deterministic, so the ones that did go out are
   * repeats the delivery hub and the events table drop.
   */
  readonly events: VehicleEvent[];
  /**
   * The snapshot could not be read (the state is rebuilt without it): it must not be written
   * over, it may be newer and better than this state.
   */
  readonly snapshotUnread: boolean;
  /** What could not be read or replayed (the recovery went on without it); null: nothing. */
  readonly problem: string | null;
}

/**
 * The state a crashed vehicle actor had before the message that threw: its last written
 * snapshot with every point it accepted since applied again through its logic, in time order:
 * the stored positions newer than the snapshot's newest point, and those not written yet. Views
 * and positions are not sent again (the shard compares the view with the one last sent). Events
 * released from the first unwritten point on are returned for sending: the crashed message's
 * points released theirs but never sent them, and a replay in time order may release an event
 * at another point than the first run did. Events still held stay held: the status timer (or a
 * newer point) releases them. Receipt, not points, drives the status: status and last receipt
 * are the crashed state's. `now` stands for the points' receipt (the future and past filters).
 */
export async function recoverCrashed(crashed: VehicleState, sources: ReplaySources, apply: VehicleLogic['applyPoint'], now: number): Promise<Recovery> {
  const problems: string[] = [];
  const delay = sources.retryDelayMs ?? ((attempt: number) => 500 * 2 ** attempt);
  let snapshotUnread = false;
  const snap = sources.lastSnapshot === undefined ? undefined : await reading(sources.lastSnapshot, delay).catch((e: Error) => {
    snapshotUnread = true;
    problems.push(`snapshot unreadable, restarted from an empty state (its snapshot is not written over): ${e.message}`);
    return undefined;
  });
  const restore = (): VehicleState => {
    try {
      if (snap !== undefined) return fromSnapshot(snap, crashed.profile);
    } catch (e) {
      problems.push(`snapshot cannot be restored, restarted from an empty state: ${(e as Error).message}`);
    }
    return newVehicleState(crashed.profile, crashed.deviceId, crashed.partition);
  };
  let state = restore();
  const fromTs = state.view?.ts ?? -Infinity;
  const readStored = sources.storedPositions;
  const stored = readStored === undefined ? [] : await reading(() => readStored(fromTs, REPLAY_LIMIT), delay).catch((e: Error) => {
    problems.push(`stored positions unreadable, only the unwritten ones replayed: ${e.message}`);
    return [];
  });
  if (stored.length >= REPLAY_LIMIT) problems.push(`more than ${REPLAY_LIMIT} stored positions since the snapshot: only the newest replayed`);
  const keptAfter = sources.storedKeptAfter?.() ?? -Infinity;
  if (readStored !== undefined && keptAfter > fromTs) problems.push('the history store forgot positions newer than the snapshot: they are not replayed');
  let firstUnwritten = Infinity;
  for (const p of sources.unwritten) if (p.ts > fromTs && p.ts < firstUnwritten) firstUnwritten = p.ts;
  let replayed = 0;
  let events: VehicleEvent[] = [];
  const scratch: VehicleEvent[] = [];
  try {
    for (const p of pointsToReplay(fromTs, stored, sources.unwritten)) {
      if (applyInWindow(state, p, scratch, now, apply).accepted) replayed++;
      if (p.ts >= firstUnwritten) for (const e of scratch) events.push(e);
      scratch.length = 0;
    }
  } catch (e) {
    // The logic throws on its own points again: the snapshot alone is the best state there is.
    problems.push(`replay threw, the snapshot restored without it: ${(e as Error).message}`);
    state = restore();
    replayed = 0;
    events = [];
  }
  keepReceipt(state, crashed);
  return { state, fromTs, replayed, events, snapshotUnread, problem: problems.length > 0 ? problems.join('; ') : null };
}

/**
 * Newer than `afterTs`, each ts once, in time order. An unwritten point wins over its stored
 * copy: it is the point as received (the store keeps some numbers as float4).
 */
export function pointsToReplay(afterTs: number, stored: readonly TelemetryPoint[], unwritten: readonly TelemetryPoint[]): TelemetryPoint[] {
  const byTs = new Map<number, TelemetryPoint>();
  for (const p of stored) if (p.ts > afterTs) byTs.set(p.ts, p);
  for (const p of unwritten) if (p.ts > afterTs) byTs.set(p.ts, p);
  return [...byTs.values()].sort((a, b) => a.ts - b.ts);
}

/** The status as receipt made it (markReceived and the status timer ran on the crashed state, not on points). */
function keepReceipt(state: VehicleState, crashed: VehicleState): void {
  state.domain.status = crashed.domain.status;
  state.domain.lastReceivedAt = Math.max(state.domain.lastReceivedAt, crashed.domain.lastReceivedAt);
  const status = crashed.view?.status;
  if (state.view !== null && status !== undefined && state.view.status !== status) state.view = { ...state.view, status };
}

async function reading<T>(read: () => Promise<T>, delay: (attempt: number) => number): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await read();
    } catch (e) {
      if (attempt + 1 >= READ_ATTEMPTS) throw e;
      await new Promise((r) => setTimeout(r, delay(attempt)));
    }
  }
}
