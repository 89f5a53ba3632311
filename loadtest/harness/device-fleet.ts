import { RouteSimulator, type RawPoint } from '../../engine/simulator/route-simulator.js';
import { hash3 } from '../../engine/simulator/seeded-random.js';

/** A slice of the simulated fleet and how it misbehaves. Every choice is drawn from `seed`. */
export interface DevicePlan {
  seed: number;
  /** Number of the first device of the slice (devices are `dev-<n>`). */
  firstDevice: number;
  /** Devices in the slice. */
  devices: number;
  /** Each device reports once per interval. */
  intervalMs: number;
  /** The slice is cut into groups reporting `slotMs` apart, so the load is spread over the interval. */
  slotMs: number;
  badRatio: number;
  duplicateRatio: number;
  silentRatio: number;
  silentAfterMs: number;
  center?: [number, number];
  radiusKm?: number;
}

/** A group of devices that report together, and when it reports next (ms since the start). */
interface Slot {
  sim: RouteSimulator;
  /** Device number of the slot's first device. */
  first: number;
  due: number;
  round: number;
}

export interface DueBatch {
  /** Records to send, in order (a duplicate follows its original). */
  points: RawPoint[];
  bad: number;
  duplicates: number;
  /** Devices of these slots that stayed silent this round. */
  silent: number;
}

const U32 = 4294967296;
const BAD_SALT = 0xbad;
const DUP_SALT = 0xd0b;
const SILENT_SALT = 0x5111;

/**
 * The devices of one worker: a RouteSimulator per slot (each simulates only its own devices,
 * seeded by their global numbers, so a device drives the same whatever the split), and which
 * points go out bad, doubled, or not at all. Pure: given the same plan and the same calls to
 * `take(now, elapsed)` it returns the same records.
 */
export class DeviceFleet {
  private readonly slots: Slot[] = [];
  private silentCount = -1;

  constructor(private readonly plan: DevicePlan) {
    const count = Math.max(1, Math.min(plan.devices, Math.round(plan.intervalMs / plan.slotMs)));
    const per = Math.ceil(plan.devices / count);
    for (let k = 0, first = plan.firstDevice; first < plan.firstDevice + plan.devices; k++, first += per) {
      const n = Math.min(per, plan.firstDevice + plan.devices - first);
      this.slots.push({
        sim: new RouteSimulator({ devices: n, seed: plan.seed, firstDevice: first, center: plan.center, radiusKm: plan.radiusKm }),
        first,
        due: (k * plan.intervalMs) / count,
        round: 0,
      });
    }
  }

  /** ms since the start when the next slot reports. */
  nextDue(): number {
    let due = Infinity;
    for (const s of this.slots) if (s.due < due) due = s.due;
    return due;
  }

  /** How many devices of the slice go silent. */
  silentDevices(): number {
    if (this.silentCount >= 0) return this.silentCount;
    let n = 0;
    for (let d = this.plan.firstDevice; d < this.plan.firstDevice + this.plan.devices; d++) if (this.goesSilent(d)) n++;
    this.silentCount = n;
    return n;
  }

  /** Whether device `n` stops reporting at `silentAfterMs`. */
  goesSilent(n: number): boolean {
    return hash3(this.plan.seed, n, SILENT_SALT) / U32 < this.plan.silentRatio;
  }

  /**
   * The records of every slot due at `elapsed` ms since the start, stamped `now` (the send
   * time, ms since epoch: clients measure latency from it).
   */
  take(now: number, elapsed: number): DueBatch {
    const out: DueBatch = { points: [], bad: 0, duplicates: 0, silent: 0 };
    const { seed, badRatio, duplicateRatio, silentAfterMs, intervalMs } = this.plan;
    const quiet = elapsed >= silentAfterMs;
    for (const slot of this.slots) {
      if (slot.due > elapsed) continue;
      const points = slot.sim.tick(now);
      for (let i = 0; i < points.length; i++) {
        const n = slot.first + i;
        if (quiet && this.goesSilent(n)) {
          out.silent++;
          continue;
        }
        let p = points[i];
        if (hash3(seed ^ BAD_SALT, n, slot.round) / U32 < badRatio) {
          p = { ...p, lat: 91 + (n % 9) };
          out.bad++;
        }
        out.points.push(p);
        if (hash3(seed ^ DUP_SALT, n, slot.round) / U32 < duplicateRatio) {
          out.points.push(p);
          out.duplicates++;
        }
      }
      slot.round++;
      slot.due += intervalMs;
    }
    return out;
  }
}

/** Splits devices 1..total into `workers` contiguous slices. */
export function splitDevices(total: number, workers: number): { firstDevice: number; devices: number }[] {
  const out: { firstDevice: number; devices: number }[] = [];
  const per = Math.ceil(total / workers);
  for (let first = 1; first <= total; first += per) out.push({ firstDevice: first, devices: Math.min(per, total - first + 1) });
  return out;
}
