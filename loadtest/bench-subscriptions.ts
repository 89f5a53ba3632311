import { setImmediate as turn } from 'node:timers/promises';
import { DeliveryHub, type DeliveryTarget, type Update } from '../actors/delivery-hub.js';
import { SubscriptionIndex } from '../actors/subscription-index.js';
import { inScope, type GroupMembership, type MotionStatus, type Subscription } from '../actors/subscription.js';
import type { VehicleView } from '../actors/domain/vehicle-state.js';

/**
 * `npm run bench:subscriptions`: the per-update cost of finding the subscribers of a vehicle's
 * change with SUBSCRIBERS subscriptions on one node (most of them map viewports, the rest
 * companies, groups and id lists, some with status filters), against testing every subscriber.
 *  1. matching alone: SubscriptionIndex candidates + the exact scope test, per update;
 *  2. the same by looping over every subscriber (what the index avoids);
 *  3. the DeliveryHub's drain (routing and per-subscriber batching) per update.
 * Numbers, not assertions.
 */
const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 10_000);
const VEHICLES = Number(process.env.BENCH_VEHICLES ?? 100_000);
const UPDATES = Number(process.env.BENCH_UPDATES ?? 200_000);
const COMPANIES = 100;
const GROUPS_PER_COMPANY = 10;

let seed = 42;
const rnd = (): number => {
  seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
  return seed / 2 ** 31;
};
const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)];

// A region the size of Germany; vehicles cluster around 20 cities, as fleets do.
const cities = Array.from({ length: 20 }, () => [6 + rnd() * 9, 47.5 + rnd() * 7] as const);
const companyOf = (i: number) => `c${i % COMPANIES}`;
const groupsByVehicle = new Map<string, string[]>();
const members = new Map<string, string[]>();
const views: VehicleView[] = [];
for (let i = 0; i < VEHICLES; i++) {
  const [lon, lat] = pick(cities);
  const id = `v${i}`;
  const g = `${companyOf(i)}-g${i % GROUPS_PER_COMPANY}`;
  groupsByVehicle.set(id, [g]);
  if (!members.has(g)) members.set(g, []);
  members.get(g)!.push(id);
  views.push({ id, company: companyOf(i), lon: lon + (rnd() - 0.5) * 0.5, lat: lat + (rnd() - 0.5) * 0.3, ts: 0, speed: 30, moving: rnd() < 0.6, ignition: rnd() < 0.8, status: 'online' });
}
const membership: GroupMembership = { groupsOf: (id) => groupsByVehicle.get(id), membersOf: (g) => members.get(g) };

interface Target extends DeliveryTarget {
  readonly sub: Subscription;
  received: number;
}
const statuses: readonly (readonly MotionStatus[] | undefined)[] = [undefined, undefined, ['moving'], ['stopped', 'idle']];
const targets: Target[] = [];
for (let i = 0; i < SUBSCRIBERS; i++) {
  const r = rnd();
  const company = `c${Math.floor(rnd() * COMPANIES)}`;
  const grant = rnd() < 0.05 ? null : new Set([company]);
  const status = pick(statuses);
  const filter = status ? { status: new Set(status) } : {};
  let sub: Subscription;
  if (r < 0.7) {
    // A map viewport at zoom 11-13: 0.1-0.4° wide around a city.
    const [lon, lat] = pick(cities);
    const w = 0.1 + rnd() * 0.3;
    const cx = lon + (rnd() - 0.5) * 0.4;
    const cy = lat + (rnd() - 0.5) * 0.2;
    sub = { bbox: [cx - w / 2, cy - w / 3, cx + w / 2, cy + w / 3], zoom: 12, fields: 'min', ...filter };
  } else if (r < 0.8) {
    sub = { groups: new Set([`${company}-g${Math.floor(rnd() * GROUPS_PER_COMPANY)}`]), fields: 'full', ...filter };
  } else if (r < 0.9) {
    sub = { companies: new Set([company]), fields: 'min', ...filter };
  } else {
    sub = { vehicles: new Set(Array.from({ length: 20 }, () => `v${Math.floor(rnd() * VEHICLES)}`)), fields: 'full' };
  }
  targets.push({ grant, sub, received: 0, deliver(u) { this.received += u.length; } });
}

const moves: VehicleView[] = [];
for (let i = 0; i < UPDATES; i++) {
  const v = views[Math.floor(rnd() * VEHICLES)];
  moves.push({ ...v, lon: v.lon + (rnd() - 0.5) * 0.002, lat: v.lat + (rnd() - 0.5) * 0.001, moving: rnd() < 0.9 ? v.moving : !v.moving });
}

function matchingWithIndex(): void {
  const index = new SubscriptionIndex<Target>(membership);
  for (const t of targets) index.set(t, t.grant, t.sub);
  let candidates = 0;
  let matched = 0;
  let current: VehicleView = moves[0];
  const visit = (t: Target): void => {
    candidates++;
    if (inScope(t.sub, t.grant, current, membership)) matched++;
  };
  for (let i = 0; i < 10_000; i++) { current = moves[i]; index.candidates(current, visit); }
  candidates = matched = 0;
  const t0 = process.hrtime.bigint();
  for (const m of moves) {
    current = m;
    index.candidates(m, visit);
  }
  const ns = Number(process.hrtime.bigint() - t0) / moves.length;
  console.log(`  index:        ${(ns / 1000).toFixed(2)} µs per update (${(1e9 / ns / 1000).toFixed(0)}k updates/s on one core); ${(candidates / moves.length).toFixed(1)} candidates, ${(matched / moves.length).toFixed(1)} in scope per update`);
}

function matchingByLoop(): void {
  const n = Math.min(moves.length, 2_000);
  let matched = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const m = moves[i];
    for (const t of targets) if (inScope(t.sub, t.grant, m, membership)) matched++;
  }
  const ns = Number(process.hrtime.bigint() - t0) / n;
  console.log(`  every subscriber: ${(ns / 1000).toFixed(2)} µs per update (${(1e9 / ns / 1000).toFixed(1)}k updates/s); ${(matched / n).toFixed(1)} in scope per update`);
}

async function hubDrain(): Promise<void> {
  const hub = new DeliveryHub(undefined, membership);
  for (const t of targets) hub.attach(t);
  hub.shown(views);
  const batch = 2_000;
  let elapsed = 0n;
  for (let i = 0; i + batch <= moves.length; i += batch) {
    for (let j = i; j < i + batch; j++) {
      const v = moves[j];
      hub.publish({ id: v.id, company: v.company, delta: { id: v.id, lat: v.lat, lon: v.lon }, view: v, receivedAt: 0 } satisfies Update);
    }
    const t0 = process.hrtime.bigint();
    await turn();
    elapsed += process.hrtime.bigint() - t0;
  }
  const ns = Number(elapsed) / moves.length;
  const received = targets.reduce((a, t) => a + t.received, 0);
  console.log(`  hub drain:    ${(ns / 1000).toFixed(2)} µs per update, routing and batching included (${(received / moves.length).toFixed(1)} subscriber deliveries per update, before each subscriber's exact test)`);
}

console.log(`subscription matching: ${SUBSCRIBERS} subscribers (70% viewports, 10% groups, 10% companies, 10% id lists; a third with a status filter), ${VEHICLES} vehicles, ${UPDATES} updates`);
matchingWithIndex();
matchingByLoop();
await hubDrain();
