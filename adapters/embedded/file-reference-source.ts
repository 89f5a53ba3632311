import { readFile } from 'node:fs/promises';
import type { ReferenceSource } from '../../actors/ports/reference-source.js';
import { parseSettingsOverride, type SettingsOverride } from '../../actors/domain/domain-settings.js';
import { isReservedVehicleId, type Company, type DeviceBinding, type FleetSnapshot, type ReferenceChange, type Vehicle, type VehicleGroup } from '../../actors/domain/reference-data.js';
import { parseGeofence, type Geofence } from '../../actors/domain/geofence.js';

export class ReferenceFileError extends Error {
  readonly code = 'BAD_FLEET_FILE';
}

function arr(doc: Record<string, unknown>, key: string, file: string): unknown[] {
  const v = doc[key] ?? [];
  if (!Array.isArray(v)) throw new ReferenceFileError(`${file}: "${key}" must be an array`);
  return v;
}

function str(o: Record<string, unknown>, key: string, where: string): string {
  const v = o[key];
  if (typeof v !== 'string' || v.length === 0) throw new ReferenceFileError(`${where}: "${key}" must be a non-empty string`);
  return v;
}

function vehicleId(o: Record<string, unknown>, key: string, where: string): string {
  const id = str(o, key, where);
  if (isReservedVehicleId(id)) throw new ReferenceFileError(`${where}: "${key}" may not start with "~" (reserved for unbound devices)`);
  return id;
}

function settings(o: Record<string, unknown>, where: string): { settings?: SettingsOverride } {
  if (o.settings === undefined) return {};
  const { value, problems } = parseSettingsOverride(o.settings);
  if (problems.length > 0) throw new ReferenceFileError(`${where}: settings: ${problems.join('; ')}`);
  return { settings: value };
}

/**
 * Parses and validates a fleet file: {companies:[{id,name,active}], vehicles:[{id,companyId,...}],
 * devices:[{deviceId,vehicleId}], geofences:[{id,companyId,name,shape,speedLimit?,dwellS?}],
 * groups:[{id,companyId,name,vehicleIds}]}.
 */
export function parseFleet(text: string, file: string): FleetSnapshot {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new ReferenceFileError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof doc !== 'object' || doc === null) throw new ReferenceFileError(`${file}: must be a JSON object`);
  const d = doc as Record<string, unknown>;
  const companies: Company[] = arr(d, 'companies', file).map((c, i) => {
    const o = c as Record<string, unknown>;
    const where = `${file}: companies[${i}]`;
    return { id: str(o, 'id', where), name: typeof o.name === 'string' ? o.name : str(o, 'id', where), active: o.active !== false, ...settings(o, where) };
  });
  const vehicles: Vehicle[] = arr(d, 'vehicles', file).map((v, i) => {
    const o = v as Record<string, unknown>;
    const where = `${file}: vehicles[${i}]`;
    const speedLimit = typeof o.speedLimit === 'number' ? o.speedLimit : undefined;
    return {
      id: vehicleId(o, 'id', where), companyId: str(o, 'companyId', where),
      ...(typeof o.name === 'string' ? { name: o.name } : {}), ...(typeof o.plate === 'string' ? { plate: o.plate } : {}),
      ...(typeof o.type === 'string' ? { type: o.type } : {}),
      ...(speedLimit !== undefined ? { speedLimit } : {}), ...settings(o, where),
    };
  });
  const devices: DeviceBinding[] = arr(d, 'devices', file).map((b, i) => {
    const o = b as Record<string, unknown>;
    const where = `${file}: devices[${i}]`;
    return { deviceId: str(o, 'deviceId', where), vehicleId: vehicleId(o, 'vehicleId', where) };
  });
  const geofences: Geofence[] = arr(d, 'geofences', file).map((g, i) => {
    const o = g as Record<string, unknown>;
    const where = `${file}: geofences[${i}]`;
    const fence = parseGeofence(str(o, 'id', where), o);
    if (fence === null) throw new ReferenceFileError(`${where}: needs companyId and a shape (polygon, circle or corridor; see docs/http-api.md)`);
    return fence;
  });
  const groups: VehicleGroup[] = arr(d, 'groups', file).map((g, i) => {
    const o = g as Record<string, unknown>;
    const where = `${file}: groups[${i}]`;
    const ids = o.vehicleIds ?? [];
    if (!Array.isArray(ids) || !ids.every((x) => typeof x === 'string' && x.length > 0)) throw new ReferenceFileError(`${where}: "vehicleIds" must be an array of vehicle ids`);
    return { id: str(o, 'id', where), companyId: str(o, 'companyId', where), name: typeof o.name === 'string' ? o.name : str(o, 'id', where), vehicleIds: ids as string[] };
  });
  return { companies, vehicles, devices, geofences, groups };
}

/** Reference data from a JSON file (FLEET_FILE), for the embedded default. Changes: none (restart to reload). */
export class FileReferenceSource implements ReferenceSource {
  readonly kind = 'file';
  constructor(private readonly file: string | null) {}

  async load(): Promise<FleetSnapshot> {
    if (this.file === null) return { companies: [], vehicles: [], devices: [] };
    return parseFleet(await readFile(this.file, 'utf8'), this.file);
  }

  async follow(_onChange: (change: ReferenceChange) => void): Promise<() => Promise<void>> {
    return async () => {};
  }
}
