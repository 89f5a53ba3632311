import type { Company, DeviceBinding, FleetSnapshot, Vehicle, VehicleGroup } from '../../actors/domain/reference-data.js';

/**
 * The demo fleet: three active companies, one vehicle `veh-<n>` per device `dev-<n>`
 * (n = 1..devices, the numbering RouteSimulator uses), assigned to the companies round-robin.
 * The last 1% of the devices (floor(devices / 100)) have no vehicle and no binding: they are
 * unbound devices, which only admin tokens see. Each company has DEPOTS groups (`<company>-depot-<k>`),
 * its vehicles spread over them in turn, so the demo page can pick groups.
 */

const DEMO_COMPANIES: readonly Company[] = Object.freeze([
  { id: 'acme', name: 'Acme Logistics', active: true },
  { id: 'bolt', name: 'Bolt Couriers', active: true },
  { id: 'city', name: 'City Transit', active: true },
]);

const KIND: Readonly<Record<string, { noun: string; speedLimit: number; plate: string }>> = {
  acme: { noun: 'Truck', speedLimit: 80, plate: 'AL' },
  bolt: { noun: 'Courier', speedLimit: 50, plate: 'BC' },
  city: { noun: 'Bus', speedLimit: 50, plate: 'CT' },
};

const DEPOTS = 4;

/** How many of `devices` stay unbound. */
export function unboundCount(devices: number): number {
  return Math.floor(devices / 100);
}

/** A Berlin-style plate, unique per vehicle number: `B-AL 1`…`B-AL 9999`, then `B-ALA 1`…, `B-ALB 1`… */
function plate(prefix: string, n: number): string {
  const series = Math.floor((n - 1) / 9999);
  const num = ((n - 1) % 9999) + 1;
  let letters = prefix;
  if (series > 0) {
    // Additional series: one more letter per 9999 vehicles (AA, AB, … beyond 26).
    let s = series - 1;
    let extra = '';
    do {
      extra = String.fromCharCode(65 + (s % 26)) + extra;
      s = Math.floor(s / 26) - 1;
    } while (s >= 0);
    letters = `${prefix}${extra}`;
  }
  return `B-${letters} ${num}`;
}

export function demoFleet(
  devices: number,
  prefix = 'dev-',
): { companies: Company[]; vehicles: Vehicle[]; devices: DeviceBinding[]; groups: VehicleGroup[] } {
  if (!Number.isInteger(devices) || devices < 0) throw new RangeError('devices must be an integer >= 0');
  const bound = devices - unboundCount(devices);
  const companies = DEMO_COMPANIES.map((c) => ({ ...c }));
  const vehicles: Vehicle[] = new Array(bound);
  const bindings: DeviceBinding[] = new Array(bound);
  const depots = new Map<string, string[]>();
  for (let n = 1; n <= bound; n++) {
    const company = companies[(n - 1) % companies.length];
    const kind = KIND[company.id];
    const id = `veh-${n}`;
    vehicles[n - 1] = {
      id,
      companyId: company.id,
      name: `${kind.noun} ${n}`,
      plate: plate(kind.plate, n),
      speedLimit: kind.speedLimit,
    };
    bindings[n - 1] = { deviceId: `${prefix}${n}`, vehicleId: id };
    const depot = `${company.id}-depot-${(Math.floor((n - 1) / companies.length) % DEPOTS) + 1}`;
    let members = depots.get(depot);
    if (members === undefined) depots.set(depot, (members = []));
    members.push(id);
  }
  const groups: VehicleGroup[] = [...depots].map(([id, vehicleIds]) => {
    const companyId = id.slice(0, id.indexOf('-depot-'));
    return { id, companyId, name: `${KIND[companyId].noun} depot ${id.slice(id.lastIndexOf('-') + 1)}`, vehicleIds };
  });
  return { companies, vehicles, devices: bindings, groups } satisfies FleetSnapshot;
}
