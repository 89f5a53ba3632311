import { spawn, type Ref } from 'nact';
import type { TelemetryPoint } from './domain/telemetry-point.js';
import type { VehicleDelta } from './domain/vehicle-state.js';
import type { VehicleEvent } from './domain/vehicle-event.js';
import { applyPoint, applyProfile, type VehicleProfile, type VehicleState } from './vehicle-logic.js';

/** Told once the actor has handled a message (one object per batch, not a closure per message). */
export interface Completion {
  done(): void;
}

export type VehicleMsg =
  | {
      readonly kind: 'points';
      readonly points: readonly TelemetryPoint[];
      /** When the records entered the engine (ms). */
      readonly receivedAt: number;
      readonly completion: Completion;
    }
  | { readonly kind: 'profile'; readonly profile: VehicleProfile; readonly completion: Completion };

/** What a vehicle actor tells its partition shard; implemented by PartitionShard. */
export interface VehicleOutbox {
  accepted(state: VehicleState, point: TelemetryPoint): void;
  rejected(reason: 'DUPLICATE' | 'OUT_OF_ORDER'): void;
  changed(state: VehicleState, delta: VehicleDelta, moved: boolean, receivedAt: number, previousCompany: string | null): void;
  events(events: VehicleEvent[]): void;
  /**
   * A message made the actor throw. Returns the state the actor goes on with (its last good
   * state); messages that arrive meanwhile wait in the mailbox. Must not reject.
   */
  crashed(state: VehicleState, error: unknown): Promise<VehicleState>;
}

/** The vehicle logic an actor runs; replaceable in tests to make it throw. */
export interface VehicleLogic {
  readonly applyPoint: typeof applyPoint;
  readonly applyProfile: typeof applyProfile;
}

export const vehicleLogic: VehicleLogic = { applyPoint, applyProfile };

/** Scratch list for a message's events: actors run one message at a time, so one list serves all. */
const SCRATCH_EVENTS: VehicleEvent[] = [];

/**
 * One actor per vehicle. Its state never leaves it except as copies (snapshots, views), and
 * points reach it straight from the shard's id → reference map, never through a parent.
 *
 * Crash policy (nact's onCrash): a throw is contained to this vehicle. The message's completion
 * fires anyway (its batch completes, the partition's offset moves on), the shared event scratch
 * list is emptied, and the actor is reset (ctx.reset) to the state the outbox hands back.
 * `name` must be a valid nact actor name, unique among the parent's children: the shard derives
 * it from a counter, never from the vehicle id (ids may hold characters nact refuses).
 */
export function spawnVehicle(
  parent: Ref<unknown>, name: string, state: VehicleState, outbox: VehicleOutbox, logic: VehicleLogic = vehicleLogic,
): Ref<VehicleMsg> {
  // The state object is mutated in place, so this is also the state the crashed message left.
  let current = state;
  return spawn(parent, (s: VehicleState, msg: VehicleMsg): VehicleState => {
    const events = SCRATCH_EVENTS;
    try {
      if (msg.kind === 'points') {
        let delta: VehicleDelta | null = null;
        let moved = false;
        for (const p of msg.points) {
          const out = logic.applyPoint(s, p, events);
          if (!out.accepted) {
            outbox.rejected(out.reason);
            continue;
          }
          outbox.accepted(s, p);
          delta = delta === null ? out.delta : Object.assign(delta, out.delta);
          moved ||= out.moved;
        }
        if (delta !== null) outbox.changed(s, delta, moved, msg.receivedAt, s.profile.company);
        if (events.length > 0) outbox.events(events.slice());
      } else {
        const previousCompany = s.profile.company;
        const delta = logic.applyProfile(s, msg.profile);
        if (delta !== null) outbox.changed(s, delta, false, Date.now(), previousCompany);
      }
    } finally {
      events.length = 0;
      msg.completion.done();
    }
    return s;
  }, name, {
    initialStateFunc: () => current,
    onCrash: async (_msg, error, ctx) => {
      try {
        current = await outbox.crashed(current, error);
      } catch {
        // crashed() must not reject; if it does, the actor goes on with the state it has
      }
      return ctx.reset;
    },
  });
}
