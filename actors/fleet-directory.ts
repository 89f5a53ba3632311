import { isReservedVehicleId, UNBOUND_VEHICLE_PREFIX, unboundVehicleId, type Company, type DeviceBinding, type Driver, type FleetSnapshot, type ReferenceChange, type ReferenceKind, type Vehicle, type VehicleGroup } from './domain/reference-data.js';
import type { Geofence } from './domain/geofence.js';
import { DEFAULT_GEOFENCE_POLICY, GeofenceIndex, type GeofencePolicy } from './geofence-index.js';
import type { VehicleProfile } from './vehicle-logic.js';
import { DEFAULT_SETTINGS, resolveSettings, type DomainSettings } from './domain/domain-settings.js';

export type RouteRefusal = 'UNKNOWN_DEVICE' | 'INACTIVE_COMPANY' | 'UNBOUND_DEVICE_LIMIT';

export type Route =
  | { readonly ok: true; readonly profile: VehicleProfile }
  | { readonly ok: false; readonly reason: RouteRefusal };

/** What happens to points of a device that no reference data binds to a vehicle. */
export interface UnboundDevicePolicy {
  /** Accept them as vehicles of their own (`~dev/<deviceId>`, admin only); false rejects them (UNKNOWN_DEVICE). */
  readonly accept: boolean;
  /** Most unbound devices this node holds at once; more are rejected (UNBOUND_DEVICE_LIMIT). */
  readonly limit: number;
}

/** One reference entity as the admin API lists it. */
export type ReferenceValue = Company | Vehicle | DeviceBinding | Geofence | Driver | VehicleGroup;

/** Who a device belongs to, for intake checks that happen before routing. */
export type DeviceOwner =
  | { readonly bound: true; readonly company: string | null; readonly active: boolean }
  | { readonly bound: false };

/**
 * Reference-data routing: which vehicle a device's points belong to, and what the vehicle actor
 * needs to know about it. Answers from memory; changes come from the ReferenceSource.
 */
export class FleetDirectory {
  private readonly companies = new Map<string, Company>();
  private readonly vehicles = new Map<string, Vehicle>();
  private readonly bindings = new Map<string, string>();
  private readonly profiles = new Map<string, VehicleProfile>();
  private readonly drivers = new Map<string, Driver>();
  private readonly groups = new Map<string, VehicleGroup>();
  /** vehicle id → ids of the groups it belongs to (subscriptions by group look up a vehicle's groups per update). */
  private readonly groupsByVehicle = new Map<string, string[]>();
  /** Every geofence of the deployment; every bound vehicle's profile points at it. */
  readonly geofences: GeofenceIndex;
  /** Vehicle ids of the unbound devices this node holds (the bounded pool). */
  private readonly unbound = new Set<string>();
  /** Reference entries refused because they name a vehicle in the reserved `~` namespace. */
  private refused = 0;

  /** `settings`: the deployment's vehicle domain settings, under each company's and vehicle's overrides. */
  constructor(
    snapshot: FleetSnapshot,
    private readonly unboundPolicy: UnboundDevicePolicy,
    private readonly settings: DomainSettings = DEFAULT_SETTINGS,
    geofencePolicy: GeofencePolicy = DEFAULT_GEOFENCE_POLICY,
  ) {
    this.geofences = new GeofenceIndex(snapshot.geofences ?? [], geofencePolicy);
    for (const d of snapshot.drivers ?? []) this.drivers.set(d.id, d);
    for (const g of snapshot.groups ?? []) this.setGroup(g.id, g);
    for (const c of snapshot.companies) this.companies.set(c.id, c);
    for (const v of snapshot.vehicles) {
      if (isReservedVehicleId(v.id)) this.refused++;
      else this.vehicles.set(v.id, v);
    }
    for (const d of snapshot.devices) {
      if (isReservedVehicleId(d.vehicleId)) this.refused++;
      else this.bindings.set(d.deviceId, d.vehicleId);
    }
  }

  route(deviceId: string): Route {
    const vehicleId = this.bindings.get(deviceId);
    if (vehicleId === undefined) return this.routeUnbound(deviceId);
    const profile = this.profile(vehicleId);
    if (profile.company !== null && !this.isActive(profile.company)) return { ok: false, reason: 'INACTIVE_COMPANY' };
    return { ok: true, profile };
  }

  private routeUnbound(deviceId: string): Route {
    if (!this.unboundPolicy.accept) return { ok: false, reason: 'UNKNOWN_DEVICE' };
    const vehicleId = unboundVehicleId(deviceId);
    if (!this.unbound.has(vehicleId)) {
      if (this.unbound.size >= this.unboundPolicy.limit) return { ok: false, reason: 'UNBOUND_DEVICE_LIMIT' };
      this.unbound.add(vehicleId);
    }
    return { ok: true, profile: this.profile(vehicleId) };
  }

  /** The vehicles left this node (their partition was released, or they were retired): their pool places are free. */
  forget(vehicleIds: Iterable<string>): void {
    if (this.unbound.size === 0) return;
    for (const id of vehicleIds) this.unbound.delete(id);
  }

  /** Whether unbound devices are accepted at all (intake rejects them early when not). */
  get acceptsUnbound(): boolean {
    return this.unboundPolicy.accept;
  }

  /** The vehicle a device's points go to (`~dev/<deviceId>` when unbound), without admitting it anywhere. */
  vehicleIdOf(deviceId: string): string {
    return this.bindings.get(deviceId) ?? unboundVehicleId(deviceId);
  }

  /** Whether reference data binds the device to a vehicle (a lookup, nothing allocated: the hot path asks it). */
  isBound(deviceId: string): boolean {
    return this.bindings.has(deviceId);
  }

  /** The company a device reports for, without admitting it anywhere. */
  owner(deviceId: string): DeviceOwner {
    const vehicleId = this.bindings.get(deviceId);
    if (vehicleId === undefined) return { bound: false };
    const company = this.vehicles.get(vehicleId)?.companyId ?? null;
    return { bound: true, company, active: company === null || this.isActive(company) };
  }

  /** The profile of a vehicle (cached: one object per vehicle, shared by routing and the actor). */
  profile(vehicleId: string): VehicleProfile {
    let p = this.profiles.get(vehicleId);
    if (p === undefined) {
      const v = this.vehicles.get(vehicleId);
      p = v === undefined
        ? { vehicleId, company: null, settings: this.settings }
        : {
          vehicleId, company: v.companyId, name: v.name, plate: v.plate, type: v.type, speedLimit: v.speedLimit, geofences: this.geofences,
          settings: resolveSettings(this.settings, this.companies.get(v.companyId)?.settings, v.settings),
        };
      this.profiles.set(vehicleId, p);
    }
    return p;
  }

  /** The devices whose points go to a vehicle (a scan: for operators, not for the hot path). */
  devicesOf(vehicleId: string): string[] {
    if (vehicleId.startsWith(UNBOUND_VEHICLE_PREFIX)) {
      const deviceId = vehicleId.slice(UNBOUND_VEHICLE_PREFIX.length);
      return this.bindings.has(deviceId) ? [] : [deviceId];
    }
    const out: string[] = [];
    for (const [deviceId, bound] of this.bindings) if (bound === vehicleId) out.push(deviceId);
    return out;
  }

  /**
   * Whether a vehicle's actor must stop and the vehicle leave every map: its company is
   * deactivated, the vehicle was deleted, or it is an unbound device's vehicle (`~dev/<id>`)
   * whose device is bound to a real vehicle now (or unbound devices are no longer accepted).
   */
  isRetired(vehicleId: string): boolean {
    if (vehicleId.startsWith(UNBOUND_VEHICLE_PREFIX)) {
      return !this.unboundPolicy.accept || this.bindings.has(vehicleId.slice(UNBOUND_VEHICLE_PREFIX.length));
    }
    const v = this.vehicles.get(vehicleId);
    return v === undefined || !this.isActive(v.companyId);
  }

  isActive(companyId: string): boolean {
    return this.companies.get(companyId)?.active ?? false;
  }

  /** The company a vehicle of the reference data belongs to (undefined: no such vehicle, or an unbound device's). */
  companyOf(vehicleId: string): string | undefined {
    return this.vehicles.get(vehicleId)?.companyId;
  }

  /** Every vehicle of the reference data. */
  vehicleIds(): string[] {
    return [...this.vehicles.keys()];
  }

  vehiclesOf(companyId: string): string[] {
    const out: string[] = [];
    for (const v of this.vehicles.values()) if (v.companyId === companyId) out.push(v.id);
    return out;
  }

  /**
   * Applies one change; returns the vehicle ids whose profile or visibility changed, so their
   * actors can be told (and retired when their company was deactivated). A change naming a
   * vehicle in the reserved `~` namespace is refused (returns nothing).
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
        if (isReservedVehicleId(change.id)) {
          this.refused++;
          return [];
        }
        if (change.value === null) this.vehicles.delete(change.id);
        else this.vehicles.set(change.id, change.value);
        this.profiles.delete(change.id);
        return [change.id];
      }
      case 'device': {
        const binding = change.value as DeviceBinding | null;
        if (binding !== null && isReservedVehicleId(binding.vehicleId)) {
          this.refused++;
          return [];
        }
        const before = this.bindings.get(change.id) ?? unboundVehicleId(change.id);
        if (binding === null) this.bindings.delete(change.id);
        else this.bindings.set(change.id, binding.vehicleId);
        return [before, ...(binding ? [binding.vehicleId] : [])];
      }
      // The index is shared by every profile: the next point of every vehicle sees the change.
      case 'geofence':
        if (change.value === null) this.geofences.remove(change.id);
        else this.geofences.upsert(change.value);
        return [];
      case 'driver':
        if (change.value === null) this.drivers.delete(change.id);
        else this.drivers.set(change.id, change.value);
        return [];
      case 'group':
        this.setGroup(change.id, change.value);
        return [];
    }
  }

  /** The groups a vehicle belongs to (undefined: none). */
  groupsOf(vehicleId: string): readonly string[] | undefined {
    return this.groupsByVehicle.get(vehicleId);
  }

  /** The vehicles of a group (undefined: no such group). */
  membersOf(groupId: string): readonly string[] | undefined {
    return this.groups.get(groupId)?.vehicleIds;
  }

  private setGroup(id: string, group: VehicleGroup | null): void {
    const before = this.groups.get(id);
    for (const v of before?.vehicleIds ?? []) {
      const list = this.groupsByVehicle.get(v);
      if (list === undefined) continue;
      const rest = list.filter((g) => g !== id);
      if (rest.length === 0) this.groupsByVehicle.delete(v);
      else this.groupsByVehicle.set(v, rest);
    }
    if (group === null) {
      this.groups.delete(id);
      return;
    }
    this.groups.set(id, group);
    for (const v of new Set(group.vehicleIds)) {
      const list = this.groupsByVehicle.get(v);
      if (list === undefined) this.groupsByVehicle.set(v, [id]);
      else list.push(id);
    }
  }

  /** Every entity of a kind (for the admin API: a copy, not the hot path). */
  list(kind: ReferenceKind): ReferenceValue[] {
    switch (kind) {
      case 'company': return [...this.companies.values()];
      case 'vehicle': return [...this.vehicles.values()];
      case 'device': return [...this.bindings].map(([deviceId, vehicleId]) => ({ deviceId, vehicleId }));
      case 'geofence': return this.geofences.list();
      case 'driver': return [...this.drivers.values()];
      case 'group': return [...this.groups.values()];
    }
  }

  get(kind: ReferenceKind, id: string): ReferenceValue | undefined {
    switch (kind) {
      case 'company': return this.companies.get(id);
      case 'vehicle': return this.vehicles.get(id);
      case 'device': {
        const vehicleId = this.bindings.get(id);
        return vehicleId === undefined ? undefined : { deviceId: id, vehicleId };
      }
      case 'geofence': return this.geofences.get(id);
      case 'driver': return this.drivers.get(id);
      case 'group': return this.groups.get(id);
    }
  }

  get stats(): { companies: number; vehicles: number; devices: number; geofences: number; drivers: number; groups: number; refused: number; unbound: number } {
    return {
      companies: this.companies.size, vehicles: this.vehicles.size, devices: this.bindings.size, geofences: this.geofences.size,
      drivers: this.drivers.size, groups: this.groups.size, refused: this.refused, unbound: this.unbound.size,
    };
  }
}
