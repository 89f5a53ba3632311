import type pg from 'pg';
import type { ReferenceSource } from '../../actors/ports/reference-source.js';
import type { Company, DeviceBinding, FleetSnapshot, ReferenceChange, Vehicle } from '../../actors/domain/reference-data.js';
import { withTransaction } from './pg-pool.js';

export interface PgReferenceSourceOptions {
  /** close() ends the pool (default false: the caller owns it). */
  readonly ownsPool?: boolean;
}

/**
 * Reference data from PostgreSQL, the back office's source of truth. load() reads companies,
 * vehicles and device bindings in one REPEATABLE READ snapshot, so the three lists are
 * consistent with each other.
 */
export class PgReferenceSource implements ReferenceSource {
  readonly kind = 'postgres';

  constructor(private readonly pool: pg.Pool, private readonly options: PgReferenceSourceOptions = {}) {}

  load(): Promise<FleetSnapshot> {
    return withTransaction(
      this.pool,
      async (client) => {
        const companies = await client.query<{ id: string; name: string; active: boolean }>('SELECT id, name, active FROM companies');
        const vehicles = await client.query<{ id: string; company_id: string; name: string | null; plate: string | null; speed_limit: number | null }>(
          'SELECT id, company_id, name, plate, speed_limit FROM vehicles',
        );
        const devices = await client.query<{ device_id: string; vehicle_id: string }>('SELECT device_id, vehicle_id FROM device_bindings');
        return {
          companies: companies.rows.map((r): Company => ({ id: r.id, name: r.name, active: r.active })),
          vehicles: vehicles.rows.map(toVehicle),
          devices: devices.rows.map((r): DeviceBinding => ({ deviceId: r.device_id, vehicleId: r.vehicle_id })),
        };
      },
      'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
    );
  }

  /**
   * A no-op. Changes after load() do not come from PostgreSQL: the back office publishes them on
   * the compacted Kafka topic fleet.reference, and the engine's wiring follows that topic (it is
   * also what a restarted node replays). Polling or LISTEN/NOTIFY here would deliver every
   * change twice. Returns a stopper so callers can treat every ReferenceSource alike.
   */
  async follow(_onChange: (change: ReferenceChange) => void): Promise<() => Promise<void>> {
    return async () => {};
  }

  async close(): Promise<void> {
    if (this.options.ownsPool) await this.pool.end();
  }
}

function toVehicle(r: { id: string; company_id: string; name: string | null; plate: string | null; speed_limit: number | null }): Vehicle {
  const v: { id: string; companyId: string; name?: string; plate?: string; speedLimit?: number } = { id: r.id, companyId: r.company_id };
  if (r.name !== null) v.name = r.name;
  if (r.plate !== null) v.plate = r.plate;
  if (r.speed_limit !== null) v.speedLimit = r.speed_limit;
  return v;
}
