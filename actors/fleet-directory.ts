import type { Company, DeviceBinding, FleetSnapshot, ReferenceChange, Vehicle } from './domain/reference-data.js';
import type { VehicleProfile } from './vehicle-logic.js';

export type Route =
  | { readonly ok: true; readonly profile: VehicleProfile }
  | { readonly ok: false; readonly reason: 'UNKNOWN_DEVICE' | 'INACTIVE_COMPANY' };

/**
 * Reference-data routing: which vehicle a device's points belong to, and what the vehicle actor
 * needs to know about it. Answers from memory; changes come from the ReferenceSource.
 */
export class FleetDirectory {
  private readonly companies = new Map<string, Company>();
  private readonly vehicles = new Map<string, Vehicle>();
  private readonly bindings = new Map<string, string>();
  private readonly profiles = new Map<string, VehicleProfile>();

  constructor(snapshot: FleetSnapshot, private readonly acceptUnbound: boolean) {
    for (const c of snapshot.companies) this.companies.set(c.id, c);
    for (const v of snapshot.vehicles) this.vehicles.set(v.id, v);
    for (const d of snapshot.devices) this.bindings.set(d.deviceId, d.vehicleId);
  }

  route(deviceId: string): Route {
    const vehicleId = this.bindings.get(deviceId);
    if (vehicleId === undefined) {
      if (!this.acceptUnbound) return { ok: false, reason: 'UNKNOWN_DEVICE' };
      return { ok: true, profile: this.profile(deviceId) };
    }
    const profile = this.profile(vehicleId);
    if (profile.company !== null && !this.isActive(profile.company)) return { ok: false, reason: 'INACTIVE_COMPANY' };
    return { ok: true, profile };
  }

  /** The profile of a vehicle (cached: one object per vehicle, shared by routing and the actor). */
  profile(vehicleId: string): VehicleProfile {
    let p = this.profiles.get(vehicleId);
    if (p === undefined) {
      const v = this.vehicles.get(vehicleId);
      p = v === undefined
        ? { vehicleId, company: null }
        : { vehicleId, company: v.companyId, name: v.name, plate: v.plate, speedLimit: v.speedLimit };
      this.profiles.set(vehicleId, p);
    }
    return p;
  }

  isActive(companyId: string): boolean {
    return this.companies.get(companyId)?.active ?? false;
  }

  vehiclesOf(companyId: string): string[] {
    const out: string[] = [];
    for (const v of this.vehicles.values()) if (v.companyId === companyId) out.push(v.id);
    return out;
  }

  /**
   * Applies one change; returns the vehicle ids whose profile or visibility changed, so their
   * actors can be told (and retired when their company was deactivated).
   */
  apply(change: ReferenceChange): string[] {
    switch (change.kind) {
      case 'company': {
        if (change.value === null) this.companies.delete(change.id);
        else this.companies.set(change.id, change.value);
        const affected = this.vehiclesOf(change.id);
        for (const id of affected) this.profiles.delete(id);
        return affected;
      }
      case 'vehicle': {
        if (change.value === null) this.vehicles.delete(change.id);
        else this.vehicles.set(change.id, change.value);
        this.profiles.delete(change.id);
        return [change.id];
      }
      case 'device': {
        const before = this.bindings.get(change.id);
        if (change.value === null) this.bindings.delete(change.id);
        else this.bindings.set(change.id, (change.value as DeviceBinding).vehicleId);
        return [before ?? change.id, ...(change.value ? [change.value.vehicleId] : [])];
      }
    }
  }

  get stats(): { companies: number; vehicles: number; devices: number } {
    return { companies: this.companies.size, vehicles: this.vehicles.size, devices: this.bindings.size };
  }
}
