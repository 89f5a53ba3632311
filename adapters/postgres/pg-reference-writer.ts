import type pg from 'pg';
import { FleetlineError } from '../../actors/domain/errors.js';
import type { ReferenceChange } from '../../actors/domain/reference-data.js';
import type { ReferenceWriter } from '../../actors/ports/reference-writer.js';

/** Table and key column of each kind (what the notify triggers of migrations 4 and 8 announce). */
const TABLES: Record<ReferenceChange['kind'], readonly [table: string, key: string]> = {
  company: ['companies', 'id'], vehicle: ['vehicles', 'id'], device: ['device_bindings', 'device_id'],
  geofence: ['geofences', 'id'], driver: ['drivers', 'id'], group: ['vehicle_groups', 'id'],
};

/**
 * The admin API's writer when PostgreSQL is configured: it writes the back office's tables (one
 * statement, so one transaction), and their triggers announce the change to every node's LISTEN.
 * Nothing goes to fleet.reference: that topic is replayed over the PostgreSQL load at every
 * start, so a copy there would bring back values the back office has changed since.
 */
export class PgReferenceWriter implements ReferenceWriter {
  readonly kind = 'postgres';
  constructor(private readonly pool: pg.Pool) {}

  async write(change: ReferenceChange): Promise<void> {
    try {
      await this.run(change);
    } catch (e) {
      const code = (e as { code?: string }).code;
      // 23503 foreign key, 23505 unique, 23514 check: the change is refused, not the store down.
      if (code === '23503' || code === '23505') throw new FleetlineError('REFERENCE_CONFLICT', (e as Error).message);
      if (code === '23514') throw new FleetlineError('INVALID_BODY', (e as Error).message);
      throw new FleetlineError('REFERENCE_UNAVAILABLE', `postgres did not take the change: ${(e as Error).message}`);
    }
  }

  private async run(change: ReferenceChange): Promise<void> {
    if (change.value === null) {
      const [table, key] = TABLES[change.kind];
      await this.pool.query(`DELETE FROM ${table} WHERE ${key} = $1`, [change.id]);
      return;
    }
    switch (change.kind) {
      case 'company': {
        const c = change.value;
        await this.pool.query(`INSERT INTO companies (id, name, active) VALUES ($1, $2, $3)
          ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, active = EXCLUDED.active`, [c.id, c.name, c.active]);
        return;
      }
      case 'vehicle': {
        const v = change.value;
        await this.pool.query(`INSERT INTO vehicles (id, company_id, name, plate, type, speed_limit) VALUES ($1, $2, $3, $4, $5, $6)
          ON CONFLICT (id) DO UPDATE SET company_id = EXCLUDED.company_id, name = EXCLUDED.name, plate = EXCLUDED.plate, type = EXCLUDED.type, speed_limit = EXCLUDED.speed_limit`,
        [v.id, v.companyId, v.name ?? null, v.plate ?? null, v.type ?? null, v.speedLimit ?? null]);
        return;
      }
      case 'device': {
        const d = change.value;
        await this.pool.query(`INSERT INTO device_bindings (device_id, vehicle_id) VALUES ($1, $2)
          ON CONFLICT (device_id) DO UPDATE SET vehicle_id = EXCLUDED.vehicle_id`, [d.deviceId, d.vehicleId]);
        return;
      }
      case 'geofence': {
        const g = change.value;
        // The typed shape goes to `shape`; `polygon` (migration 1) is left empty.
        await this.pool.query(`INSERT INTO geofences (id, company_id, name, shape, polygon, speed_limit, dwell_s) VALUES ($1, $2, $3, $4, NULL, $5, $6)
          ON CONFLICT (id) DO UPDATE SET company_id = EXCLUDED.company_id, name = EXCLUDED.name, shape = EXCLUDED.shape, polygon = NULL,
            speed_limit = EXCLUDED.speed_limit, dwell_s = EXCLUDED.dwell_s`,
        [g.id, g.companyId, g.name, JSON.stringify(g.shape), g.speedLimit ?? null, g.dwellS ?? null]);
        return;
      }
      case 'driver': {
        const d = change.value;
        await this.pool.query(`INSERT INTO drivers (id, company_id, name, unique_id) VALUES ($1, $2, $3, $4)
          ON CONFLICT (id) DO UPDATE SET company_id = EXCLUDED.company_id, name = EXCLUDED.name, unique_id = EXCLUDED.unique_id`,
        [d.id, d.companyId, d.name, d.uniqueId ?? null]);
        return;
      }
      case 'group': {
        const g = change.value;
        await this.pool.query(`INSERT INTO vehicle_groups (id, company_id, name, vehicle_ids) VALUES ($1, $2, $3, $4)
          ON CONFLICT (id) DO UPDATE SET company_id = EXCLUDED.company_id, name = EXCLUDED.name, vehicle_ids = EXCLUDED.vehicle_ids`,
        [g.id, g.companyId, g.name, g.vehicleIds]);
        return;
      }
    }
  }
}
