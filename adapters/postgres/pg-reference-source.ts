import pg from 'pg';
import type { ReferenceSource } from '../../actors/ports/reference-source.js';
import type { Logger } from '../../actors/ports/logger.js';
import { REFERENCE_KINDS, type Company, type DeviceBinding, type Driver, type FleetSnapshot, type ReferenceChange, type ReferenceKind, type Vehicle, type VehicleGroup } from '../../actors/domain/reference-data.js';
import { parseGeofence, type Geofence } from '../../actors/domain/geofence.js';
import { withTransaction } from './pg-pool.js';
import { parseSettingsOverride, type SettingsOverride } from '../../actors/domain/domain-settings.js';

export interface PgReferenceSourceOptions {
  /** close() ends the pool (default false: the caller owns it). */
  readonly ownsPool?: boolean;
  readonly logger?: Logger;
  /** Reconnect delay of the LISTEN connection after it was lost (default 1000 ms, doubling to 30 s). */
  readonly reconnectMs?: number;
}

/** The channel migration 4's triggers notify, with payload '<kind>:<id>'. */
export const REFERENCE_CHANNEL = 'fleetline_reference';

type VehicleRow = { id: string; company_id: string; name: string | null; plate: string | null; type: string | null; speed_limit: number | null; settings: unknown };
type CompanyRow = { id: string; name: string; active: boolean; settings: unknown };
type GeofenceRow = { id: string; company_id: string; name: string; shape: unknown; polygon: unknown; speed_limit: number | null; dwell_s: number | null };
type DriverRow = { id: string; company_id: string; name: string; unique_id: string | null };
type GroupRow = { id: string; company_id: string; name: string; vehicle_ids: string[] };

const GEOFENCE_COLUMNS = 'id, company_id, name, shape, polygon, speed_limit, dwell_s';
const NOTIFICATION = new RegExp(`^(${REFERENCE_KINDS.join('|')}):(.+)$`, 's');

/**
 * Reference data from PostgreSQL, the back office's source of truth. load() reads companies,
 * vehicles, device bindings, geofences, drivers and vehicle groups in one REPEATABLE READ
 * snapshot, so the lists are consistent with each other. follow() LISTENs on
 * fleetline_reference (triggers of migrations 4 and 8 announce every changed row) and re-reads
 * each announced row, in order. A geofence row whose shape is not one is skipped (logged).
 */
export class PgReferenceSource implements ReferenceSource {
  readonly kind = 'postgres';

  constructor(private readonly pool: pg.Pool, private readonly options: PgReferenceSourceOptions = {}) {}

  load(): Promise<FleetSnapshot> {
    return withTransaction(
      this.pool,
      async (client) => {
        const companies = await client.query<CompanyRow>('SELECT id, name, active, settings FROM companies');
        const vehicles = await client.query<VehicleRow>('SELECT id, company_id, name, plate, type, speed_limit, settings FROM vehicles');
        const devices = await client.query<{ device_id: string; vehicle_id: string }>('SELECT device_id, vehicle_id FROM device_bindings');
        const geofences = await client.query<GeofenceRow>(`SELECT ${GEOFENCE_COLUMNS} FROM geofences`);
        const drivers = await client.query<DriverRow>('SELECT id, company_id, name, unique_id FROM drivers');
        const groups = await client.query<GroupRow>('SELECT id, company_id, name, vehicle_ids FROM vehicle_groups');
        return {
          companies: companies.rows.map((r) => this.toCompany(r)),
          vehicles: vehicles.rows.map((r) => this.toVehicle(r)),
          devices: devices.rows.map((r): DeviceBinding => ({ deviceId: r.device_id, vehicleId: r.vehicle_id })),
          geofences: geofences.rows.map((r) => this.toGeofence(r)).filter((g): g is Geofence => g !== null),
          drivers: drivers.rows.map(toDriver),
          groups: groups.rows.map(toGroup),
        };
      },
      'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
    );
  }

  /**
   * Delivers every committed change after it starts listening. The LISTEN connection is its own
   * (not a pool connection); when it is lost it is re-established with backoff, and a change
   * committed while it was down arrives with the next change of that row or the next restart
   * (logged). Resolves once listening.
   */
  async follow(onChange: (change: ReferenceChange) => void): Promise<() => Promise<void>> {
    const log = this.options.logger;
    let stopped = false;
    let client: pg.Client | null = null;
    let chain: Promise<void> = Promise.resolve();
    let retry: NodeJS.Timeout | null = null;
    let delay = this.options.reconnectMs ?? 1000;

    const onNotification = (msg: pg.Notification) => {
      const m = NOTIFICATION.exec(msg.payload ?? '');
      if (!m) return;
      const [, kind, id] = m;
      // One re-read at a time: changes reach onChange in commit order.
      chain = chain.then(async () => {
        if (stopped) return;
        try {
          onChange(await this.read(kind as ReferenceKind, id));
        } catch (e) {
          log?.error({ kind, id, err: (e as Error).message }, 'reference change not read from postgres');
        }
      });
    };
    const connect = async (): Promise<void> => {
      const c = new pg.Client({ ...this.pool.options, application_name: `${this.pool.options.application_name ?? 'fleetline'}-listen` });
      c.on('notification', onNotification);
      c.on('error', (err: Error) => {
        if (stopped || client !== c) return;
        client = null;
        log?.error({ err: err.message, retryInMs: delay }, 'postgres reference LISTEN connection lost; changes made until it is back arrive with the next restart');
        c.end().catch(() => {});
        schedule();
      });
      await c.connect();
      await c.query(`LISTEN ${REFERENCE_CHANNEL}`);
      client = c;
    };
    const schedule = () => {
      retry = setTimeout(() => {
        retry = null;
        if (stopped) return;
        connect().then(() => {
          delay = this.options.reconnectMs ?? 1000;
          log?.info({}, 'postgres reference LISTEN connection re-established');
        }, (e: Error) => {
          delay = Math.min(30_000, delay * 2);
          log?.warn({ err: e.message, retryInMs: delay }, 'postgres reference LISTEN reconnect failed');
          schedule();
        });
      }, delay);
      retry.unref();
    };

    await connect();
    return async () => {
      stopped = true;
      if (retry !== null) clearTimeout(retry);
      const c = client;
      client = null;
      await chain;
      await c?.end().catch(() => {});
    };
  }

  /** The current row of one announced entity: its value, or null when it was deleted. */
  private async read(kind: ReferenceKind, id: string): Promise<ReferenceChange> {
    if (kind === 'company') {
      const { rows } = await this.pool.query<CompanyRow>('SELECT id, name, active, settings FROM companies WHERE id = $1', [id]);
      return { kind, id, value: rows.length === 0 ? null : this.toCompany(rows[0]) };
    }
    if (kind === 'vehicle') {
      const { rows } = await this.pool.query<VehicleRow>('SELECT id, company_id, name, plate, type, speed_limit, settings FROM vehicles WHERE id = $1', [id]);
      return { kind, id, value: rows.length === 0 ? null : this.toVehicle(rows[0]) };
    }
    if (kind === 'geofence') {
      const { rows } = await this.pool.query<GeofenceRow>(`SELECT ${GEOFENCE_COLUMNS} FROM geofences WHERE id = $1`, [id]);
      return { kind, id, value: rows.length === 0 ? null : this.toGeofence(rows[0]) };
    }
    if (kind === 'driver') {
      const { rows } = await this.pool.query<DriverRow>('SELECT id, company_id, name, unique_id FROM drivers WHERE id = $1', [id]);
      return { kind, id, value: rows.length === 0 ? null : toDriver(rows[0]) };
    }
    if (kind === 'group') {
      const { rows } = await this.pool.query<GroupRow>('SELECT id, company_id, name, vehicle_ids FROM vehicle_groups WHERE id = $1', [id]);
      return { kind, id, value: rows.length === 0 ? null : toGroup(rows[0]) };
    }
    const { rows } = await this.pool.query<{ vehicle_id: string }>('SELECT vehicle_id FROM device_bindings WHERE device_id = $1', [id]);
    return { kind: 'device', id, value: rows.length === 0 ? null : { deviceId: id, vehicleId: rows[0].vehicle_id } };
  }

  /** A row whose shape is not one acts as deleted: no vehicle can be inside it. */
  private toGeofence(r: GeofenceRow): Geofence | null {
    const g = parseGeofence(r.id, {
      companyId: r.company_id, name: r.name, shape: r.shape ?? r.polygon,
      ...(r.speed_limit !== null ? { speedLimit: r.speed_limit } : {}), ...(r.dwell_s !== null ? { dwellS: r.dwell_s } : {}),
    });
    if (g === null) this.options.logger?.warn({ geofence: r.id }, 'geofence skipped: its shape is not a polygon, circle or corridor');
    return g;
  }

  async close(): Promise<void> {
    if (this.options.ownsPool) await this.pool.end();
  }

  /** A settings column: what validates is kept, the rest is logged and left out. */
  private settings(raw: unknown, where: string): SettingsOverride | undefined {
    if (raw === null || raw === undefined) return undefined;
    const { value, problems } = parseSettingsOverride(raw);
    if (problems.length > 0) this.options.logger?.warn({ where, problems }, 'reference settings partly ignored');
    return Object.keys(value).length > 0 ? value : undefined;
  }

  private toCompany(r: CompanyRow): Company {
    const settings = this.settings(r.settings, `company ${r.id}`);
    return { id: r.id, name: r.name, active: r.active, ...(settings ? { settings } : {}) };
  }

  private toVehicle(r: VehicleRow): Vehicle {
    const v: { id: string; companyId: string; name?: string; plate?: string; type?: string; speedLimit?: number; settings?: SettingsOverride } = { id: r.id, companyId: r.company_id };
    if (r.name !== null) v.name = r.name;
    if (r.plate !== null) v.plate = r.plate;
    if (r.type !== null) v.type = r.type;
    if (r.speed_limit !== null) v.speedLimit = r.speed_limit;
    const settings = this.settings(r.settings, `vehicle ${r.id}`);
    if (settings) v.settings = settings;
    return v;
  }
}

function toDriver(r: DriverRow): Driver {
  return { id: r.id, companyId: r.company_id, name: r.name, ...(r.unique_id !== null ? { uniqueId: r.unique_id } : {}) };
}

function toGroup(r: GroupRow): VehicleGroup {
  return { id: r.id, companyId: r.company_id, name: r.name, vehicleIds: r.vehicle_ids };
}
