import { Packr } from 'msgpackr';
import type { Redis } from 'ioredis';
import type { FleetSnapshot } from '../../actors/domain/reference-data.js';
import type { StoredState, VehicleRef } from './vehicle-derivation.js';

const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false, int64AsType: 'number' });

export const packValue = (v: unknown): Buffer => packr.pack(v);
export const unpackValue = <T>(b: Buffer): T => packr.unpack(b) as T;

/**
 * The Redis layout the two services share: reference data per device (read on every point),
 * current state per vehicle, the vehicle ids of each company and a GEO index of positions
 * (read by the fanout for a subscription's snapshot).
 */
export class HotStateKeys {
  constructor(readonly prefix: string) {}
  ref(deviceId: string): string { return `${this.prefix}ref:dev:${deviceId}`; }
  state(vehicleId: string): string { return `${this.prefix}state:${vehicleId}`; }
  company(companyId: string): string { return `${this.prefix}company:${companyId}`; }
  get companies(): string { return `${this.prefix}companies`; }
  get geo(): string { return `${this.prefix}geo`; }
}

/** Writes the reference data of a fleet file into Redis (pipelined); returns the devices written. */
export async function seedReference(redis: Redis, keys: HotStateKeys, fleet: FleetSnapshot): Promise<number> {
  const companies = new Map(fleet.companies.map((c) => [c.id, c]));
  const vehicles = new Map(fleet.vehicles.map((v) => [v.id, v]));
  let pipe = redis.pipeline();
  let queued = 0;
  const flushEvery = async (): Promise<void> => {
    if (++queued % 5000 !== 0) return;
    await pipe.exec();
    pipe = redis.pipeline();
  };
  const byCompany = new Map<string, string[]>(fleet.companies.map((c) => [c.id, []]));
  for (const v of fleet.vehicles) byCompany.get(v.companyId)?.push(v.id);
  for (const [company, ids] of byCompany) {
    pipe.sadd(keys.companies, company);
    for (let i = 0; i < ids.length; i += 10_000) pipe.sadd(keys.company(company), ...ids.slice(i, i + 10_000));
  }
  let written = 0;
  for (const d of fleet.devices) {
    const v = vehicles.get(d.vehicleId);
    if (v === undefined) continue;
    const ref: VehicleRef = {
      vehicleId: v.id, company: v.companyId, active: companies.get(v.companyId)?.active ?? false,
      ...(v.name !== undefined && { name: v.name }), ...(v.plate !== undefined && { plate: v.plate }),
      ...(v.speedLimit !== undefined && { speedLimit: v.speedLimit }),
    };
    pipe.set(keys.ref(d.deviceId), packValue(ref));
    written++;
    await flushEvery();
  }
  await pipe.exec();
  return written;
}

/** Current states of these vehicles (null where none yet), one MGET. */
export async function readStates(redis: Redis, keys: HotStateKeys, vehicleIds: readonly string[]): Promise<(StoredState | null)[]> {
  if (vehicleIds.length === 0) return [];
  const raw = await redis.mgetBuffer(...vehicleIds.map((id) => keys.state(id)));
  return raw.map((b) => (b === null ? null : unpackValue<StoredState>(b)));
}
