import { encode } from '@msgpack/msgpack';
import type { VehicleEvent } from '../../actors/domain/vehicle-event.js';
import type { VehicleView } from '../../actors/domain/vehicle-state.js';
import { StreamClient } from './engine.js';

type Subscription = { vehicles?: string[]; companies?: string[]; bbox?: [number, number, number, number] };

/**
 * A map client's picture of the fleet: a StreamClient subscribed once, with every `snap`, `d`
 * and `gone` frame merged into one view per vehicle as docs/protocol.md tells clients to
 * (snap replaces, a delta merges its changed fields, gone removes). It never resubscribes.
 */
export class LiveFleetView {
  readonly vehicles = new Map<string, Partial<VehicleView> & { id: string }>();
  /** Deltas that took a vehicle back in time (an older `ts` than the one held): a map that jumps back. */
  readonly regressions: string[] = [];
  /** How often each event id arrived in an `ev` frame (a replay may repeat one; clients dedupe by id). */
  readonly events = new Map<string, number>();
  private applied = 0;

  private constructor(readonly client: StreamClient, readonly label: string) {}

  static async subscribe(baseUrl: string, token: string, sub: Subscription, label = baseUrl): Promise<LiveFleetView> {
    const client = await StreamClient.connect(baseUrl, token);
    await client.next((f) => f.t === 'ready', 30_000);
    client.send({ t: 'sub', ...sub }, (v) => encode(v));
    await client.next((f) => f.t === 'snap', 30_000);
    return new LiveFleetView(client, label);
  }

  /** Merges the frames received since the last call; returns the current views. */
  current(): Map<string, Partial<VehicleView> & { id: string }> {
    const frames = this.client.frames;
    for (; this.applied < frames.length; this.applied++) {
      const f = frames[this.applied];
      if (f.t === 'snap') {
        this.vehicles.clear();
        for (const v of f.vehicles as VehicleView[]) this.vehicles.set(v.id, { ...v });
      } else if (f.t === 'd') {
        for (const u of f.u as (Partial<VehicleView> & { id: string })[]) {
          const held = this.vehicles.get(u.id);
          if (held?.ts !== undefined && u.ts !== undefined && u.ts < held.ts) this.regressions.push(`${u.id}: ts ${held.ts} → ${u.ts} (frame ${this.applied})`);
          this.vehicles.set(u.id, { ...held, ...u });
        }
      } else if (f.t === 'ev') {
        for (const e of f.e as VehicleEvent[]) this.events.set(e.id, (this.events.get(e.id) ?? 0) + 1);
      } else if (f.t === 'gone') {
        for (const id of f.ids as string[]) this.vehicles.delete(id);
      }
    }
    this.client.assertSeqContinuity();
    return this.vehicles;
  }

  /** Whether the socket is still open (a view that was closed by the server would be stale). */
  get open(): boolean {
    return this.client.closeCode === null;
  }

  close(): void {
    this.client.close();
  }
}
