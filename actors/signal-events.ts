import type { DomainSettings } from './domain/domain-settings.js';
import type { TelemetryPoint } from './domain/telemetry-point.js';
import type { DomainState } from './domain/domain-state.js';
import type { EventWriter } from './event-writer.js';
import type { MotionPoint } from './trip-recorder.js';

/** The vehicle's own speed limit, or the deployment's (company's) default; 0: none. Geofences may replace it (geofence-tracker.ts). */
export function resolveSpeedLimit(s: DomainSettings, vehicleLimit: number | undefined): number {
  return vehicleLimit ?? s.speedLimitKmh;
}

/**
 * overspeed_start once over the limit (plus tolerance) for overspeedMinDurationS, stamped when
 * it began; overspeed_end once at or under it as long, stamped when it went under.
 */
export function trackOverspeed(d: DomainState, s: DomainSettings, p: MotionPoint, limit: number, ev: EventWriter): void {
  const minMs = s.overspeedMinDurationS * 1000;
  const over = limit > 0 && p.speed > limit + s.overspeedToleranceKmh;
  if (!d.overspeeding) {
    if (!over) {
      d.overSince = 0;
      d.overMax = 0;
      return;
    }
    if (d.overSince === 0) d.overSince = p.ts;
    if (p.speed > d.overMax) d.overMax = p.speed;
    if (p.ts - d.overSince >= minMs) {
      d.overspeeding = true;
      d.underSince = 0;
      ev.emit('overspeed_start', d.overSince, p.lat, p.lon, { speed: p.speed, limit });
    }
    return;
  }
  if (over) {
    d.underSince = 0;
    if (p.speed > d.overMax) d.overMax = p.speed;
    return;
  }
  if (d.underSince === 0) d.underSince = p.ts;
  if (p.ts - d.underSince >= minMs || limit <= 0) {
    ev.emit('overspeed_end', d.underSince, p.lat, p.lon, { maxSpeed: Math.round(d.overMax * 10) / 10, durationMs: d.underSince - d.overSince, limit });
    d.overspeeding = false;
    d.overSince = 0;
    d.underSince = 0;
    d.overMax = 0;
  }
}

function median(values: readonly number[]): number {
  const sorted = values.slice().sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * Appends a reading to the fuel window, keeping its last `size`. The array is as long as it
 * holds and a full one is shifted in place: pushing grew it to 17 slots for 5 readings, and
 * every resident vehicle that reports fuel holds one.
 */
function pushReading(d: DomainState, fuel: number, size: number): number[] {
  const r = d.fuelReadings;
  if (r.length < size) return (d.fuelReadings = r.concat(fuel));
  while (r.length > size) r.shift();
  for (let i = 1; i < r.length; i++) r[i - 1] = r[i];
  if (r.length > 0) r[r.length - 1] = fuel;
  return r;
}

/**
 * Fuel judged on the median of the last fuelWindow readings, so one noisy reading is neither a
 * refuel nor a drain. A change is judged once the smoothed level settles (one refuel is one
 * event, however long the pump runs); while driving the level only follows consumption.
 */
export function trackFuel(d: DomainState, s: DomainSettings, p: MotionPoint, fuel: number | undefined, ev: EventWriter): void {
  if (fuel === undefined) return;
  const r = pushReading(d, fuel, s.fuelWindow);
  if (r.length < s.fuelWindow) return;
  const level = median(r);
  if (Number.isNaN(d.fuelBaseline)) {
    d.fuelBaseline = level;
    d.fuelLast = level;
    return;
  }
  const change = level - d.fuelBaseline;
  const settled = Math.abs(level - d.fuelLast) < Math.min(s.fuelRefuelMin, s.fuelDrainMin) / 4;
  d.fuelLast = level;
  const round = (v: number) => Math.round(v * 10) / 10;
  if (change >= s.fuelRefuelMin && (settled || d.moving)) {
    ev.emit('fuel_refuel', p.ts, p.lat, p.lon, { from: round(d.fuelBaseline), to: round(level), amount: round(change) });
    d.fuelBaseline = level;
  } else if (-change >= s.fuelDrainMin && settled && !d.moving) {
    ev.emit('fuel_drain', p.ts, p.lat, p.lon, { from: round(d.fuelBaseline), to: round(level), amount: round(-change) });
    d.fuelBaseline = level;
  } else if (d.moving && change < 0) {
    d.fuelBaseline = level;
  }
}

function text(v: string | number | boolean | undefined): string | null {
  if (v === undefined || v === '' || v === false) return null;
  return String(v);
}

/** ignition_on/off on a change, driver_changed on a new driver id, alarm on a new `alarm` value. */
export function trackAttributes(d: DomainState, s: DomainSettings, p: TelemetryPoint, prevIgnition: boolean | undefined, ev: EventWriter): void {
  if (p.ignition !== undefined && prevIgnition !== undefined && p.ignition !== prevIgnition) {
    ev.emit(p.ignition ? 'ignition_on' : 'ignition_off', p.ts, p.lat, p.lon);
  }
  const attrs = p.attrs;
  if (attrs === undefined) {
    d.alarm = null;
    return;
  }
  const driver = text(attrs[s.driverAttribute]);
  if (driver !== null && driver !== d.driver) {
    ev.emit('driver_changed', p.ts, p.lat, p.lon, d.driver === null ? { driver } : { driver, previous: d.driver });
    d.driver = driver;
  }
  // A device repeats its alarm in every point while it lasts: one event per new alarm.
  const alarm = text(attrs.alarm);
  if (alarm !== null && alarm !== d.alarm) ev.emit('alarm', p.ts, p.lat, p.lon, { alarm });
  d.alarm = alarm;
}
