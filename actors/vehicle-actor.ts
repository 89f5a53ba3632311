import { spawn, type Ref, type SupervisionActorFunc } from 'nact';
import type { TelemetryPoint } from './domain/telemetry-point.js';
import type { VehicleDelta } from './domain/vehicle-state.js';
import type { VehicleEvent } from './domain/vehicle-event.js';
import type { TripSegment } from './domain/trip-segment.js';
import type { PointRejection } from './domain/point-filters.js';
import type { SegmentRepair } from './segment-repair.js';
import { applyPoint, applyProfile, checkOffline, markReceived, offlineDue, restoreInto, settingsOf, takeRepair, takeSegments, type VehicleProfile, type VehicleState } from './vehicle-logic.js';
import { applyInWindow, holdsOutput, settledHorizon, settleIfQuiet } from './reorder-window.js';

/** Told once the actor has handled a message (one object per batch, not a closure per message). */
export interface Completion {
  done(): void;
}

export type VehicleMsg =
  | {
      readonly kind: 'points';
      /** The actor's vehicle: the crash policy, shared by a shard's actors, finds it by this. */
      readonly vehicleId: string;
      readonly points: readonly TelemetryPoint[];
      /** When the records entered the engine (ms). */
      readonly receivedAt: number;
      readonly completion: Completion;
    }
  | { readonly kind: 'profile'; readonly vehicleId: string; readonly profile: VehicleProfile; readonly completion: Completion }
  /**
   * Does nothing: its completion fires once every message queued before it is done (a retired
   * vehicle's last message; the test that nothing reached a passivated vehicle since).
   */
  | { readonly kind: 'barrier'; readonly vehicleId: string; readonly completion: Completion }
  /** A reactivated vehicle's first message: its state is put back from the snapshot store. */
  | { readonly kind: 'restore'; readonly vehicleId: string; readonly load: () => Promise<VehicleState | null>; readonly completion: Completion }
  /** The status timer: goes offline when nothing was received for offlineTimeoutS (`now`, wall-clock ms). */
  | { readonly kind: 'status'; readonly vehicleId: string; readonly now: number; readonly completion: Completion };

/** What a vehicle actor tells its partition shard; implemented by PartitionShard. */
export interface VehicleOutbox {
  accepted(state: VehicleState, point: TelemetryPoint): void;
  rejected(reason: PointRejection): void;
  changed(state: VehicleState, delta: VehicleDelta, moved: boolean, receivedAt: number, previousCompany: string | null): void;
  events(events: VehicleEvent[]): void;
  /** Trips and stops the vehicle opened, grew, closed or repaired (written at the next checkpoint). */
  segments(segments: TripSegment[]): void;
  /** Late points ask the history to re-cut closed trips and stops (after their positions are stored). */
  repair?(repair: SegmentRepair): void;
  /** The vehicle is online: check its status at `dueAt` (wall-clock ms) with a `status` message. */
  watch(state: VehicleState, dueAt: number): void;
  /**
   * The reorder window let go of what it held (its events are out): the vehicle's stored snapshot,
   * which may still hold them, must be written again, or a restore would send them twice.
   */
  windowSettled?(state: VehicleState): void;
  /**
   * The vehicle's actor threw on a message. Restores the actor's state object in place to its
   * last good state and resolves when done; messages that arrive meanwhile wait in the mailbox.
   * Must not reject.
   */
  crashed(vehicleId: string, error: unknown): Promise<void>;
}

/** The vehicle logic an actor runs; replaceable in tests to make it throw. */
export interface VehicleLogic {
  readonly applyPoint: typeof applyPoint;
  readonly applyProfile: typeof applyProfile;
}

export const vehicleLogic: VehicleLogic = { applyPoint, applyProfile };

/** The points in time order: a burst that arrived reordered within one message is applied sorted. */
function inTimeOrder(points: readonly TelemetryPoint[]): readonly TelemetryPoint[] {
  for (let i = 1; i < points.length; i++) {
    if (points[i].ts < points[i - 1].ts) return points.slice().sort((a, b) => a.ts - b.ts);
  }
  return points;
}

/** Scratch list for a message's events: actors run one message at a time, so one list serves all. */
const SCRATCH_EVENTS: VehicleEvent[] = [];

type Handler = (s: VehicleState, msg: VehicleMsg) => VehicleState | Promise<VehicleState>;

/**
 * Books a vehicle put back from a store or a crash on the status timer: its offline check (it
 * may be online with no receipt to book one) and the end of its reorder window if it holds output.
 */
export function bookChecks(s: VehicleState, outbox: Pick<VehicleOutbox, 'watch'>): void {
  const due = offlineDue(s);
  if (due !== null) outbox.watch(s, due);
  if (holdsOutput(s)) outbox.watch(s, s.domain.lastReceivedAt + settingsOf(s).reorderWindowS * 1000);
}

/** The one asynchronous message: nact awaits it before the vehicle's next message. */
async function restoreFromStore(s: VehicleState, load: () => Promise<VehicleState | null>, completion: Completion, outbox: VehicleOutbox): Promise<VehicleState> {
  try {
    const restored = await load();
    if (restored !== null) {
      restoreInto(s, restored);
      bookChecks(s, outbox);
    }
  } finally {
    completion.done();
  }
  return s;
}
type CrashPolicy = SupervisionActorFunc<VehicleMsg, Ref<unknown>, Ref<unknown>>;

/**
 * What every vehicle actor of one shard runs: its message handler and its crash policy. Made
 * once per shard and shared by its actors (a closure per actor would cost each one heap).
 *
 * Crash policy (nact's onCrash): a throw is contained to its vehicle. The message's completion
 * fires anyway (its batch completes, the partition's offset moves on), the shared event scratch
 * list is emptied, the outbox restores the vehicle's state in place, and the actor resumes
 * (ctx.resume) with its next message.
 */
export class VehicleBehaviour {
  readonly handle: Handler;
  readonly onCrash: CrashPolicy;

  constructor(outbox: VehicleOutbox, logic: VehicleLogic = vehicleLogic) {
    this.handle = (s, msg) => {
      if (msg.kind === 'restore') return restoreFromStore(s, msg.load, msg.completion, outbox);
      const events = SCRATCH_EVENTS;
      try {
        if (msg.kind === 'points') {
          let delta: VehicleDelta | null = null;
          let moved = false;
          let received = false;
          for (const p of inTimeOrder(msg.points)) {
            const out = applyInWindow(s, p, events, msg.receivedAt, logic.applyPoint);
            if (!out.accepted) {
              outbox.rejected(out.reason);
              continue;
            }
            outbox.accepted(s, p);
            received = true;
            if (out.delta !== null) delta = delta === null ? out.delta : Object.assign(delta, out.delta);
            moved ||= out.moved;
          }
          if (received) {
            const online = markReceived(s, msg.receivedAt, events);
            if (online !== null) delta = delta === null ? online : Object.assign(delta, online);
            // On every receipt, not only on going online: a restored vehicle is online already.
            // The wheel keeps an earlier booking (one lookup); that check books the next one.
            const due = offlineDue(s);
            if (due !== null) outbox.watch(s, due);
          }
          if (delta !== null) outbox.changed(s, delta, moved, msg.receivedAt, s.profile.company);
          if (events.length > 0) outbox.events(events.slice());
          const segments = takeSegments(s, settledHorizon(s));
          if (segments !== null) outbox.segments(segments);
          const repair = takeRepair(s);
          if (repair !== null) outbox.repair?.(repair);
          // What the reorder window holds goes out on the status timer if no newer point closes it first.
          if (holdsOutput(s)) outbox.watch(s, msg.receivedAt + settingsOf(s).reorderWindowS * 1000);
        } else if (msg.kind === 'status') {
          if (settleIfQuiet(s, msg.now, events)) {
            outbox.windowSettled?.(s);
            const segments = takeSegments(s);
            if (segments !== null) outbox.segments(segments);
          } else if (holdsOutput(s)) {
            outbox.watch(s, s.domain.lastReceivedAt + settingsOf(s).reorderWindowS * 1000);
          }
          const check = checkOffline(s, msg.now, events);
          if (check.due !== null) outbox.watch(s, check.due);
          if (check.delta !== null) outbox.changed(s, check.delta, false, msg.now, s.profile.company);
          if (events.length > 0) outbox.events(events.slice());
        } else if (msg.kind === 'profile') {
          const previousCompany = s.profile.company;
          const delta = logic.applyProfile(s, msg.profile);
          if (delta !== null) outbox.changed(s, delta, false, Date.now(), previousCompany);
        }
      } finally {
        events.length = 0;
        msg.completion.done();
      }
      return s;
    };
    this.onCrash = async (msg, error, ctx) => {
      try {
        if (msg !== undefined) await outbox.crashed(msg.vehicleId, error);
      } catch {
        // crashed() must not reject; if it does, the actor goes on with the state it has
      }
      return ctx.resume;
    };
  }
}

/**
 * One actor per vehicle. Its state never leaves it except as copies (snapshots, views), and
 * points reach it straight from the shard's id → reference map, never through a parent.
 * `name` must be a valid nact actor name, unique among the parent's children: the shard derives
 * it from a counter, never from the vehicle id (ids may hold characters nact refuses).
 */
export function spawnVehicle(parent: Ref<unknown>, name: string, state: VehicleState, behaviour: VehicleBehaviour): Ref<VehicleMsg> {
  return spawn(parent, behaviour.handle, name, { initialState: state, onCrash: behaviour.onCrash });
}
