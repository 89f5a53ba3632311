import assert from 'node:assert/strict';
import type { TelemetryPoint } from '../../actors/domain/telemetry-point.js';
import type { VehicleEvent } from '../../actors/domain/vehicle-event.js';
import type { RealDeployment } from './real-services.js';

/**
 * Compares a deployment's durable history (PostgreSQL `events` and `positions`) with what the
 * produced points imply, exactly: as multisets, so a missing row and a doubled row both fail.
 */

/** A row as one comparable string: object keys sorted (jsonb reorders them), nil as null. */
export function rowKey(row: Record<string, unknown>): string {
  const canon = (v: unknown): unknown => (v !== null && typeof v === 'object' && !Array.isArray(v)
    ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => [k, canon(x)]))
    : v ?? null);
  return JSON.stringify(canon(row));
}

/** `stored` and `want` as multisets: what `want` has that `stored` lacks, and the reverse. */
export function multisetDiff(stored: string[], want: string[]): { missing: string[]; extra: string[] } {
  const count = new Map<string, number>();
  for (const k of stored) count.set(k, (count.get(k) ?? 0) + 1);
  const missing: string[] = [];
  for (const k of want) {
    const n = count.get(k) ?? 0;
    if (n === 0) missing.push(k);
    else count.set(k, n - 1);
  }
  const extra = [...count].flatMap(([k, n]) => new Array<string>(n).fill(k));
  return { missing, extra };
}

export function assertExactly(what: string, stored: string[], want: string[]): void {
  const { missing, extra } = multisetDiff(stored, want);
  const show = (xs: string[]) => xs.slice(0, 5).join('\n    ') + (xs.length > 5 ? `\n    … ${xs.length - 5} more` : '');
  assert.ok(missing.length === 0 && extra.length === 0,
    `${what}: ${stored.length} stored, ${want.length} expected; ${missing.length} missing, ${extra.length} extra` +
    (missing.length ? `\n  missing:\n    ${show(missing)}` : '') + (extra.length ? `\n  extra:\n    ${show(extra)}` : ''));
}

const eventKey = (e: { id: string; vehicleId: string; company: string | null; type: string; ts: number; lat: number; lon: number; data: unknown }) =>
  rowKey({ id: e.id, vehicleId: e.vehicleId, company: e.company, type: e.type, ts: e.ts, lat: e.lat, lon: e.lon, data: e.data });

// speed and fuel are `real` columns: compare them at float4 precision.
const f4 = (v: number | null | undefined) => (v === null || v === undefined ? null : Math.fround(v));
const positionKey = (r: { vehicleId: string; deviceId: string; ts: number; lat: number; lon: number; speed: number | null; ignition: boolean | null; fuel: number | null; odometer: number | null }) =>
  rowKey({ vehicleId: r.vehicleId, deviceId: r.deviceId, ts: r.ts, lat: r.lat, lon: r.lon, speed: f4(r.speed), ignition: r.ignition, fuel: f4(r.fuel), odometer: r.odometer });

/**
 * The durable history must be exactly what the points imply: every expected event stored once
 * with the same content, none other (a replay from a wrong state derives different events, with
 * different ids, so the primary key does not hide them), and every produced point stored as one
 * position row.
 */
export async function assertHistoryMatches(dep: RealDeployment, produced: readonly TelemetryPoint[], wantEvents: readonly VehicleEvent[], vehicleOf: (p: TelemetryPoint) => string): Promise<{ events: number; positions: number }> {
  const ev = await dep.db.pool.query<{ id: string; vehicle_id: string; company_id: string | null; type: string; ts: string; lat: number; lon: number; data: unknown }>(
    // device_online / device_offline are stamped with when points arrived: not derivable from them.
    "SELECT id, vehicle_id, company_id, type, round(extract(epoch FROM ts) * 1000)::text AS ts, lat, lon, data FROM events WHERE type NOT IN ('device_online', 'device_offline')");
  assertExactly('events',
    ev.rows.map((r) => eventKey({ id: r.id, vehicleId: r.vehicle_id, company: r.company_id, type: r.type, ts: Number(r.ts), lat: r.lat, lon: r.lon, data: r.data })),
    wantEvents.map((e) => eventKey({ ...e, data: e.data ?? null })));
  const pos = await dep.db.pool.query<{ vehicle_id: string; device_id: string; ts: string; lat: number; lon: number; speed: number | null; ignition: boolean | null; fuel: number | null; odometer: number | null }>(
    'SELECT vehicle_id, device_id, round(extract(epoch FROM ts) * 1000)::text AS ts, lat, lon, speed, ignition, fuel, odometer FROM positions');
  assertExactly('positions',
    pos.rows.map((r) => positionKey({ vehicleId: r.vehicle_id, deviceId: r.device_id, ts: Number(r.ts), lat: r.lat, lon: r.lon, speed: r.speed, ignition: r.ignition, fuel: r.fuel, odometer: r.odometer })),
    produced.map((p) => positionKey({ vehicleId: vehicleOf(p), deviceId: p.deviceId, ts: p.ts, lat: p.lat, lon: p.lon, speed: p.speed ?? null, ignition: p.ignition ?? null, fuel: p.fuel ?? null, odometer: p.odometer ?? null })));
  return { events: ev.rows.length, positions: pos.rows.length };
}

/** Waits until the history holds at least as many rows as expected (the last checkpoint landed), then compares it. */
export async function settledHistoryMatches(dep: RealDeployment, produced: readonly TelemetryPoint[], wantEvents: readonly VehicleEvent[], vehicleOf: (p: TelemetryPoint) => string, timeoutMs = 30_000): Promise<{ events: number; positions: number }> {
  const deadline = Date.now() + timeoutMs;
  const counts = async () => (await dep.db.pool.query<{ n: string }>("SELECT (SELECT count(*) FROM positions) + (SELECT count(*) FROM events WHERE type NOT IN ('device_online', 'device_offline')) AS n")).rows[0].n;
  let last = await counts();
  while (Date.now() < deadline) {
    if (Number(last) >= produced.length + wantEvents.length) break;
    await new Promise((r) => setTimeout(r, 250));
    last = await counts();
  }
  // One more checkpoint interval for anything beyond the expected count to land too.
  await new Promise((r) => setTimeout(r, 1000));
  return assertHistoryMatches(dep, produced, wantEvents, vehicleOf);
}
