import { eventId, type VehicleEvent, type VehicleEventType } from './domain/vehicle-event.js';

/**
 * Where one point's events go. One writer serves every actor (an actor handles one message at a
 * time), so emitting allocates the event and nothing else. A late point's writer is muted:
 * repairs never fire a live event.
 */
export class EventWriter {
  vehicleId = '';
  company: string | null = null;
  out: VehicleEvent[] = [];
  muted = false;

  reset(vehicleId: string, company: string | null, out: VehicleEvent[], muted: boolean): this {
    this.vehicleId = vehicleId;
    this.company = company;
    this.out = out;
    this.muted = muted;
    return this;
  }

  emit(type: VehicleEventType, ts: number, lat: number, lon: number, data?: Record<string, string | number | boolean>): void {
    if (this.muted) return;
    const e: VehicleEvent = { id: eventId(this.vehicleId, type, ts), vehicleId: this.vehicleId, company: this.company, type, ts, lat, lon, ...(data ? { data } : {}) };
    this.out.push(e);
  }
}
