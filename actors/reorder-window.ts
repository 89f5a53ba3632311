import type { TelemetryPoint } from './domain/telemetry-point.js';
import type { VehicleEvent } from './domain/vehicle-event.js';
import type { PointRejection } from './domain/point-filters.js';
import { newPackedDomain, packDomainInto, unpackDomain, type PackedDomain } from './domain/domain-state.js';
import { newPackedView, packViewInto, unpackView, type PackedView } from './packed-view.js';
import { WindowPoints } from './window-points.js';
import { diff, settingsOf, type ApplyOutcome, type VehicleState } from './vehicle-logic.js';

/**
 * The per-vehicle reorder window (setting reorderWindowS): points that arrive out of order by
 * up to the window are applied as if they had arrived sorted, so trips, stops, events and the
 * odometer are those of the sorted sequence; an older point is late (late-points.ts).
 *
 * Optimistic, so the in-order case costs next to nothing: every point is applied at once (the
 * live view is never held back) and kept in a short list, and a copy of the derived state is
 * taken at most once per window of point time. Only a point that actually arrives out of order
 * rewinds: the state goes back to the last copy older than it and the points since are applied
 * again with it in its place. What a rewind may still change is never sent before it is final:
 * events wait (held) until their point is older than the window, and so does the first write of
 * a trip or stop (its id is its start, which reordering may move). The window closes on point
 * time (a point `reorderWindowS` newer arrived) or, when the vehicle goes quiet, on the status
 * timer `reorderWindowS` after the last receipt; a point older than where it closed is late.
 */
export interface ReorderWindow {
  /** Copies of the state after the point at `ts`, oldest first; [0] is at or before the horizon. */
  checkpoints: Checkpoint[];
  /** The points applied (or refused by a step filter) after checkpoints[0], in time order. */
  readonly points: WindowPoints;
  /** The newest point applied. */
  newestTs: number;
  /** Closed by the timer up to here (a point at or before it is late). */
  settledTs: number;
  /** Events of points not yet settled, with their point's ts (ascending). */
  held: VehicleEvent[];
  heldTags: number[];
  /** A checkpoint no longer in use, to copy into (the next one is taken as this one retires). */
  spare: Checkpoint | null;
  /** Points applied since the newest checkpoint. */
  sinceCheckpoint: number;
}

/**
 * Reused once dropped (window.spare): a copy per window of point time must not be garbage for
 * the collector. The view and the domain state packed into it, the geofence presence inline:
 * a checkpoint is one object and two arrays of numbers, whatever the vehicle's view holds.
 */
interface Checkpoint extends PackedView, PackedDomain {
  ts: number;
  accepted: number;
  inside: readonly string[];
  pending: Map<string, number> | null;
  speedLimit: number | undefined;
}

type Apply = (state: VehicleState, p: TelemetryPoint, events: VehicleEvent[], now: number) => ApplyOutcome;

/** Refusals that depend on the previous point: a point refused so may pass in its sorted place. */
const CHECKPOINT_POINTS = 4;

const STEP_REFUSALS: ReadonlySet<PointRejection> = new Set<PointRejection>(['IMPOSSIBLE_JUMP', 'MIN_PERIOD', 'MIN_DISTANCE']);

export function newWindow(ts: number, held: VehicleEvent[] = []): ReorderWindow {
  return { checkpoints: [], points: new WindowPoints(), newestTs: ts, settledTs: ts, held, heldTags: held.map(() => ts), spare: null, sinceCheckpoint: 0 };
}

function horizon(win: ReorderWindow, windowMs: number): number {
  return Math.max(win.settledTs, win.newestTs - windowMs);
}

/** Points at or before this are settled (their events and segments may go out): +∞ without a window. */
export function settledHorizon(state: VehicleState): number {
  const win = state.window;
  return win === null ? Infinity : horizon(win, settingsOf(state).reorderWindowS * 1000);
}

/** Whether events or segment writes wait for the window to close (the actor books the status timer). */
export function holdsOutput(state: VehicleState): boolean {
  const win = state.window;
  return win !== null && (win.held.length > 0 || state.segmentsOut.length > 0 || state.segmentDirty);
}

/**
 * Applies `p` through the window: in order at once; within the window by a rewind; older as a
 * late point (which closes the window: the copies predate its repair). Events go to `events`
 * only once settled.
 */
export function applyInWindow(state: VehicleState, p: TelemetryPoint, events: VehicleEvent[], now: number, apply: Apply): ApplyOutcome {
  const windowMs = settingsOf(state).reorderWindowS * 1000;
  let win = state.window;
  if (windowMs === 0) {
    if (win !== null) {
      close(win, events);
      state.window = null;
    }
    return apply(state, p, events, now);
  }
  if (win === null) win = state.window = newWindow(state.view?.ts ?? -Infinity);
  if (p.ts > win.newestTs) {
    const out = step(state, win, p, events, now, windowMs, apply, true);
    advance(win, windowMs, events);
    return out;
  }
  if (holdsPoint(win, p.ts)) return { accepted: false, reason: 'DUPLICATE' };
  if (p.ts > horizon(win, windowMs) && win.checkpoints.length > 0 && p.ts > win.checkpoints[0].ts) {
    return rewind(state, win, p, events, now, windowMs, apply);
  }
  const out = apply(state, p, events, now);
  if (out.accepted) close(win, events);
  return out;
}

/**
 * The status timer: once nothing was received for the window, it closes: held events go out
 * (to `events`) and an older point is late from now on. Returns whether it closed.
 */
export function settleIfQuiet(state: VehicleState, now: number, events: VehicleEvent[]): boolean {
  const win = state.window;
  if (win === null) return false;
  if (now - state.domain.lastReceivedAt < settingsOf(state).reorderWindowS * 1000) return false;
  close(win, events);
  return true;
}

function step(state: VehicleState, win: ReorderWindow, p: TelemetryPoint, events: VehicleEvent[], now: number, windowMs: number, apply: Apply, keepEvents: boolean): ApplyOutcome {
  if (win.checkpoints.length === 0) addCheckpoint(win, checkpoint(win, state, win.newestTs));
  const before = events.length;
  const out = apply(state, p, events, now);
  // Applied live (it is the view now), or refused for where it stood relative to the previous point.
  if (out.accepted ? state.view !== null && state.view.ts === p.ts : STEP_REFUSALS.has(out.reason)) {
    win.points.push(p);
    win.newestTs = p.ts;
    // A copy per window of point time and at most one per CHECKPOINT_POINTS points: a rewind replays a few more.
    if (++win.sinceCheckpoint >= CHECKPOINT_POINTS && p.ts - win.checkpoints[win.checkpoints.length - 1].ts >= windowMs) {
      // The one this replaces is retired first (as advance() would right after): the copy is made into it.
      retireUnreachable(win, horizon(win, windowMs));
      addCheckpoint(win, checkpoint(win, state, p.ts));
      win.sinceCheckpoint = 0;
    }
  }
  if (events.length > before) {
    if (keepEvents) {
      for (let i = before; i < events.length; i++) {
        win.held.push(events[i]);
        win.heldTags.push(p.ts);
      }
    }
    events.length = before;
  }
  return out;
}

/** Releases the events now settled and forgets the copies and points no rewind can reach. */
function advance(win: ReorderWindow, windowMs: number, events: VehicleEvent[]): void {
  const h = horizon(win, windowMs);
  if (win.heldTags.length > 0 && win.heldTags[0] <= h) {
    let k = 0;
    while (k < win.heldTags.length && win.heldTags[k] <= h) events.push(win.held[k++]);
    win.held.splice(0, k);
    win.heldTags.splice(0, k);
  }
  retireUnreachable(win, h);
  const cps = win.checkpoints;
  if (cps.length === 0) return;
  const base = cps[0].ts;
  const points = win.points;
  let n = 0;
  while (n < points.length && points.tsAt(n) <= base) n++;
  points.dropFirst(n);
}

/** Retires the checkpoints no rewind can reach any more: a point after `h` rewinds to the last one at or before it. */
function retireUnreachable(win: ReorderWindow, h: number): void {
  const cps = win.checkpoints;
  while (cps.length > 1 && cps[1].ts <= h) retire(win, cps.shift() as Checkpoint);
}

/** Everything held goes out; the window starts again from the current state (no copy kept: a quiet vehicle holds none). */
function close(win: ReorderWindow, events: VehicleEvent[]): void {
  for (const e of win.held) events.push(e);
  win.held = [];
  win.heldTags = [];
  win.points.clear();
  win.sinceCheckpoint = 0;
  win.checkpoints = [];
  win.spare = null;
  win.settledTs = win.newestTs;
}

function holdsPoint(win: ReorderWindow, ts: number): boolean {
  for (let i = win.points.length - 1; i >= 0 && win.points.tsAt(i) >= ts; i--) if (win.points.tsAt(i) === ts) return true;
  return false;
}

/** `q` arrived after newer points of the window: back to the last copy before it, then forward in order. */
function rewind(state: VehicleState, win: ReorderWindow, q: TelemetryPoint, events: VehicleEvent[], now: number, windowMs: number, apply: Apply): ApplyOutcome {
  let c = win.checkpoints.length - 1;
  while (win.checkpoints[c].ts >= q.ts) c--;
  const cp = win.checkpoints[c];
  for (let i = c + 1; i < win.checkpoints.length; i++) retire(win, win.checkpoints[i]);
  win.checkpoints.length = c + 1;
  win.sinceCheckpoint = 0;
  let from = 0;
  while (from < win.points.length && win.points.tsAt(from) <= cp.ts) from++;
  const replay = win.points.takeFrom(from);
  let at = 0;
  while (at < replay.length && replay[at].ts < q.ts) at++;
  replay.splice(at, 0, q);
  let kept = 0;
  while (kept < win.heldTags.length && win.heldTags[kept] < q.ts) kept++;
  win.held.length = kept;
  win.heldTags.length = kept;
  // Segments that points from q on opened are made again by the replay; the open one is rewritten.
  state.segmentsOut = state.segmentsOut.filter((s) => s.openedTs === undefined || s.openedTs < q.ts);
  state.segmentDirty = true;

  const viewBefore = state.view;
  restore(state, cp);
  win.newestTs = cp.ts;
  let result: ApplyOutcome = { accepted: false, reason: 'DUPLICATE' };
  // Points before q do again what they did (their events are already held or out); q and later ones may not.
  for (const r of replay) {
    const out = step(state, win, r, events, now, windowMs, apply, r.ts >= q.ts);
    if (r === q) result = out;
  }
  advance(win, windowMs, events);
  const view = state.view;
  if (!result.accepted || view === null) return result;
  // Replayed from before the first point, the view has no status yet: it keeps the one it had.
  if (viewBefore?.status !== undefined && view.status === undefined) view.status = viewBefore.status;
  const moved = viewBefore === null || viewBefore.lat !== view.lat || viewBefore.lon !== view.lon;
  return { accepted: true, delta: diff(viewBefore, view), moved };
}

/**
 * A window holds two or three checkpoints at a time. The list is made anew (once per window of
 * point time) rather than pushed to: a pushed array grows to 17 slots, 100-odd unused bytes
 * per resident vehicle.
 */
function addCheckpoint(win: ReorderWindow, cp: Checkpoint): void {
  const cps = win.checkpoints;
  win.checkpoints = cps.length === 0 ? [cp] : cps.concat(cp);
}

/**
 * A checkpoint no rewind can reach: kept to copy into, without the references it held. One
 * is enough: in order, the next checkpoint is taken as this one retires (step()); a rewind that
 * drops several leaves the others to the collector.
 */
function retire(win: ReorderWindow, cp: Checkpoint): void {
  if (win.spare !== null) return;
  packViewInto(cp, null);
  cp.inside = NO_IDS;
  cp.pending = null;
  win.spare = cp;
}

const NO_IDS: readonly string[] = Object.freeze([]);

function checkpoint(win: ReorderWindow, state: VehicleState, ts: number): Checkpoint {
  const g = state.geofences;
  let cp = win.spare;
  if (cp === null) {
    // One literal of every field (not spreads, which would add them one by one to a property store).
    const view = newPackedView();
    const domain = newPackedDomain();
    cp = {
      ts, accepted: 0, inside: NO_IDS, pending: null, speedLimit: undefined,
      present: view.present, viewNums: view.viewNums, attrs: view.attrs, geofences: view.geofences, alerts: view.alerts,
      nums: domain.nums, status: domain.status, driver: domain.driver, alarm: domain.alarm, segmentKind: domain.segmentKind, previousKind: domain.previousKind,
    };
  } else {
    win.spare = null;
  }
  cp.ts = ts;
  cp.accepted = state.accepted;
  packViewInto(cp, state.view);
  packDomainInto(cp, state.domain);
  cp.inside = g.inside;
  cp.pending = g.pending && new Map(g.pending);
  cp.speedLimit = g.speedLimit;
  return cp;
}

/** The state of `cp`, except what runs on receipt rather than on points: status and reference data. */
function restore(state: VehicleState, cp: Checkpoint): void {
  const live = state.domain;
  state.domain = unpackDomain(cp, live.status, live.lastReceivedAt);
  state.geofences = { inside: cp.inside, pending: cp.pending && new Map(cp.pending), speedLimit: cp.speedLimit };
  state.accepted = cp.accepted;
  state.recent.dropAfter(cp.ts);
  state.view = unpackView(cp, state.vehicleId, state.profile, state.view?.status);
}
