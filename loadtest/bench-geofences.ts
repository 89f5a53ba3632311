import type { Geofence, GeofenceShape, LonLat } from '../actors/domain/geofence.js';
import type { VehicleEvent } from '../actors/domain/vehicle-event.js';
import { FleetDirectory } from '../actors/fleet-directory.js';
import { applyPoint, newVehicleState, type VehicleState } from '../actors/vehicle-logic.js';
import { DEFAULT_SETTINGS } from '../actors/domain/domain-settings.js';

/**
 * The per-point cost of geofences inside the vehicle actor: applyPoint with 100 geofences per
 * company and 10,000 in the deployment (100 companies, all in the same 40 × 40 km city, so
 * their boxes overlap as much as they can), against the same points with no geofence index.
 * Shapes: 40% polygons of 8-20 vertices, 40% circles of 100-2000 m, 20% corridors of 5-20
 * points, 30-100 m wide. Vehicles drive random walks through the city.
 */
const COMPANIES = Number(process.env.BENCH_GEOFENCE_COMPANIES ?? 100);
const PER_COMPANY = Number(process.env.BENCH_GEOFENCES_PER_COMPANY ?? 100);
const VEHICLES = Number(process.env.BENCH_GEOFENCE_VEHICLES ?? 2000);
const POINTS = Number(process.env.BENCH_GEOFENCE_POINTS ?? 400_000);
const CITY: LonLat = [37.6, 55.75];
const SPAN_DEG = 0.36;

/** mulberry32: the same geofences and walks on every run. */
class SeededRandom {
  constructor(private state: number) {}
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

function shape(rnd: SeededRandom): GeofenceShape {
  const lon = CITY[0] + (rnd.next() - 0.5) * SPAN_DEG;
  const lat = CITY[1] + (rnd.next() - 0.5) * SPAN_DEG * 0.6;
  const kind = rnd.next();
  if (kind < 0.4) {
    const n = 8 + Math.floor(rnd.next() * 13);
    const r = 0.002 + rnd.next() * 0.02;
    const ring: LonLat[] = [];
    for (let i = 0; i < n; i++) {
      const a = (i / n) * 2 * Math.PI;
      const k = 0.6 + rnd.next() * 0.4;
      ring.push([lon + Math.cos(a) * r * k * 1.7, lat + Math.sin(a) * r * k]);
    }
    return { type: 'polygon', coordinates: [ring] };
  }
  if (kind < 0.8) return { type: 'circle', center: [lon, lat], radius: 100 + rnd.next() * 1900 };
  const n = 5 + Math.floor(rnd.next() * 16);
  const line: LonLat[] = [[lon, lat]];
  for (let i = 1; i < n; i++) {
    const [x, y] = line[i - 1];
    line.push([x + (rnd.next() - 0.5) * 0.01, y + (rnd.next() - 0.5) * 0.006]);
  }
  return { type: 'corridor', coordinates: line, width: 30 + rnd.next() * 70 };
}

function directory(withGeofences: boolean): FleetDirectory {
  const rnd = new SeededRandom(42);
  const geofences: Geofence[] = [];
  const companies = [];
  const vehicles = [];
  for (let c = 0; c < COMPANIES; c++) {
    companies.push({ id: `c${c}`, name: `Company ${c}`, active: true });
    for (let g = 0; g < PER_COMPANY; g++) geofences.push({ id: `c${c}-g${g}`, companyId: `c${c}`, name: `g${g}`, shape: shape(rnd), ...(g % 10 === 0 ? { speedLimit: 40 } : {}) });
  }
  for (let v = 0; v < VEHICLES; v++) vehicles.push({ id: `v${v}`, companyId: `c${v % COMPANIES}`, speedLimit: 90 });
  return new FleetDirectory({ companies, vehicles, devices: [], geofences: withGeofences ? geofences : [] }, { accept: false, limit: 0 }, DEFAULT_SETTINGS, { dwellMs: 10_000, speedLimit: 'lowest' });
}

interface Run { usPerPoint: number; geofenceEvents: number; pointsInside: number }

function run(dir: FleetDirectory): Run {
  const rnd = new SeededRandom(7);
  const states: VehicleState[] = [];
  const pos: [number, number][] = [];
  for (let v = 0; v < VEHICLES; v++) {
    states.push(newVehicleState(dir.profile(`v${v}`), `d${v}`, 0));
    pos.push([CITY[0] + (rnd.next() - 0.5) * SPAN_DEG, CITY[1] + (rnd.next() - 0.5) * SPAN_DEG * 0.6]);
  }
  const events: VehicleEvent[] = [];
  let geofenceEvents = 0;
  let inside = 0;
  const t0 = 1_700_000_000_000;
  const step = (i: number) => {
    const v = i % VEHICLES;
    const p = pos[v];
    // About 15 m per 5 s step, in a random direction: a vehicle crosses geofence edges now and then.
    p[0] += (rnd.next() - 0.5) * 0.0005;
    p[1] += (rnd.next() - 0.5) * 0.0003;
    applyPoint(states[v], { deviceId: `d${v}`, ts: t0 + Math.floor(i / VEHICLES) * 5000 + 1, lat: p[1], lon: p[0], speed: 30 }, events);
    for (const e of events) if (e.type === 'geofence_enter' || e.type === 'geofence_exit') geofenceEvents++;
    events.length = 0;
    if (states[v].geofences.inside.length > 0) inside++;
  };
  for (let i = 0; i < VEHICLES * 5; i++) step(i); // warm-up: JIT and every vehicle's first point
  geofenceEvents = 0;
  inside = 0;
  const started = performance.now();
  for (let i = VEHICLES * 5; i < VEHICLES * 5 + POINTS; i++) step(i);
  const ms = performance.now() - started;
  return { usPerPoint: (ms * 1000) / POINTS, geofenceEvents, pointsInside: inside };
}

export function geofencePointCost(): void {
  const without = run(directory(false));
  const dir = directory(true);
  const withFences = run(dir);
  console.log(`Geofences per point in the vehicle actor (${PER_COMPANY} per company, ${dir.geofences.size} in the deployment, ${COMPANIES} companies over one city, ${VEHICLES} vehicles, ${POINTS} points):`);
  console.log(`  applyPoint with geofences: ${withFences.usPerPoint.toFixed(2)} µs/point (${(100 * withFences.pointsInside / POINTS).toFixed(0)}% of points inside at least one, ${withFences.geofenceEvents} enter/exit events)`);
  console.log(`  applyPoint without:        ${without.usPerPoint.toFixed(2)} µs/point; geofences add ${(withFences.usPerPoint - without.usPerPoint).toFixed(2)} µs/point`);
}

if (process.argv[1]?.endsWith('bench-geofences.ts')) geofencePointCost();
