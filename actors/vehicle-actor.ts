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
}

/** Scratch list for a message's events: actors run one message at a time, so one list serves all. */
const NO_EVENTS: VehicleEvent[] = [];

/**
 * One actor per vehicle. Its state never leaves it except as copies (snapshots, views), and
 * points reach it straight from the shard's id → reference map, never through a parent.
 */
export function spawnVehicle(parent: Ref<unknown>, state: VehicleState, outbox: VehicleOutbox): Ref<VehicleMsg> {
  return spawn(parent, (s: VehicleState, msg: VehicleMsg): VehicleState => {
    try {
      if (msg.kind === 'points') {
        let delta: VehicleDelta | null = null;
        let moved = false;
        const events: VehicleEvent[] = NO_EVENTS;
        for (const p of msg.points) {
          const out = applyPoint(s, p, events);
          if (!out.accepted) {
            outbox.rejected(out.reason);
            continue;
          }
          outbox.accepted(s, p);
          delta = delta === null ? out.delta : Object.assign(delta, out.delta);
          moved ||= out.moved;
        }
        if (delta !== null) outbox.changed(s, delta, moved, msg.receivedAt, s.profile.company);
        if (events.length > 0) {
          outbox.events(events.slice());
          events.length = 0;
        }
      } else {
        const previousCompany = s.profile.company;
        const delta = applyProfile(s, msg.profile);
        if (delta !== null) outbox.changed(s, delta, false, Date.now(), previousCompany);
      }
    } finally {
      msg.completion.done();
    }
    return s;
  }, actorName(state.vehicleId), { initialState: state });
}

/**
 * nact accepts names from [A-Za-z0-9-$_.+!*'(),] only, vehicle ids hold more (`~dev/<deviceId>`,
 * `:`): every other character (and `$` itself) is escaped as `$<hex>$`, which keeps names unique.
 */
function actorName(vehicleId: string): string {
  return vehicleId.replace(/[^A-Za-z0-9_.-]/g, (c) => `$${c.charCodeAt(0).toString(16)}$`);
}
