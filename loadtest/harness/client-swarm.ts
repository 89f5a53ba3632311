import { unboundCount } from '../../engine/simulator/demo-fleet.js';
import { DeviceRandom, hash3 } from '../../engine/simulator/seeded-random.js';
import type { LatencyTimeline } from './latency-timeline.js';
import { LoadClient, vehiclesQuery, type Subscription } from './load-client.js';
import { compareState, lostUpdates, type StateDifference } from './state-comparison.js';

const COMPANIES = ['acme', 'bolt', 'city'] as const;
/** Map views at three zooms: width and height in degrees (about city, district, street). */
const ZOOMS: readonly { zoom: number; dLon: number; dLat: number }[] = [
  { zoom: 11, dLon: 0.35, dLat: 0.2 },
  { zoom: 13, dLon: 0.09, dLat: 0.05 },
  { zoom: 15, dLon: 0.022, dLat: 0.012 },
];

export interface SwarmPlan {
  clients: number;
  devices: number;
  seed: number;
  mix: { company: number; bbox: number; ids: number };
  idsPerClient: number;
  center: [number, number];
  radiusKm: number;
}

export interface PlannedClient {
  subscription: Subscription;
  /** The token's grant: one company, or admin (bbox clients: they see unbound devices too). */
  grant: { companies: string[] } | { role: 'admin' };
}

/** Which vehicles the demo fleet of `devices` devices gives company `c` (veh-n, round-robin). */
function companyVehicle(devices: number, company: number, k: number): string | null {
  const bound = devices - unboundCount(devices);
  const n = company + 1 + 3 * k;
  return n <= bound ? `veh-${n}` : null;
}

/** The clients of a run and their subscriptions, drawn from the seed (the same plan every run). */
export function planClients(plan: SwarmPlan): PlannedClient[] {
  const random = new DeviceRandom(1);
  random.seed(0, hash3(plan.seed, 0xc11e, 7));
  const r = (): number => random.next(0);
  const total = plan.mix.company + plan.mix.bbox + plan.mix.ids;
  const out: PlannedClient[] = [];
  const [lat0, lon0] = plan.center;
  const perCompany = Math.ceil((plan.devices - unboundCount(plan.devices)) / 3);
  for (let i = 0; i < plan.clients; i++) {
    const pick = r() * total;
    const company = Math.floor(r() * 3);
    if (pick < plan.mix.company) {
      out.push({ subscription: { kind: 'company', companies: [COMPANIES[company]] }, grant: { companies: [COMPANIES[company]] } });
    } else if (pick < plan.mix.company + plan.mix.bbox) {
      const z = ZOOMS[Math.floor(r() * ZOOMS.length)];
      const reach = (plan.radiusKm * 0.7) / 111.32;
      const lat = lat0 + (r() * 2 - 1) * reach;
      const lon = lon0 + ((r() * 2 - 1) * reach) / Math.cos((lat0 * Math.PI) / 180);
      const bbox: [number, number, number, number] = [lon - z.dLon / 2, lat - z.dLat / 2, lon + z.dLon / 2, lat + z.dLat / 2];
      out.push({ subscription: { kind: 'bbox', bbox, zoom: z.zoom }, grant: { role: 'admin' } });
    } else {
      const ids = new Set<string>();
      const want = Math.min(plan.idsPerClient, perCompany);
      for (let tries = 0; ids.size < want && tries < want * 4; tries++) {
        const v = companyVehicle(plan.devices, company, Math.floor(r() * perCompany));
        if (v !== null) ids.add(v);
      }
      out.push({ subscription: { kind: 'ids', vehicles: [...ids].sort() }, grant: { companies: [COMPANIES[company]] } });
    }
  }
  return out;
}

/** Runs `jobs` with at most `limit` at once. */
export async function inBatches<T>(items: readonly T[], limit: number, job: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await job(items[i], i);
    }
  }));
}

/** Every client's final state compared with the engine's answer to its filter. */
export interface SwarmCheck {
  clients: number;
  expected: number;
  matched: number;
  lost: number;
  missing: number;
  stale: number;
  extra: number;
  ahead: number;
  /** A few examples per kind, to start looking. */
  examples: string[];
  /** Clients whose check could not be made (their socket closed, or the GET failed). */
  unchecked: number;
}

/** The WebSocket clients of a run, spread over the engines round-robin. */
export class ClientSwarm {
  readonly clients: LoadClient[];
  readonly connectErrors: string[] = [];

  constructor(private readonly planned: readonly PlannedClient[], latency: LatencyTimeline, private readonly tokens: (grant: PlannedClient['grant']) => string, stationary?: LatencyTimeline) {
    this.clients = planned.map((p, i) => new LoadClient(i, p.subscription, latency, stationary));
  }

  async connect(engines: readonly string[], concurrency: number): Promise<void> {
    await inBatches(this.clients, concurrency, async (c, i) => {
      try {
        await c.connect(engines[i % engines.length], this.tokens(this.planned[i].grant));
      } catch (e) {
        this.connectErrors.push((e as Error).message);
      }
    });
  }

  /** Asks the engine, per client and with the client's token, for what the client should hold. */
  async check(engines: readonly string[], concurrency = 8): Promise<SwarmCheck> {
    const sum: SwarmCheck = { clients: 0, expected: 0, matched: 0, lost: 0, missing: 0, stale: 0, extra: 0, ahead: 0, examples: [], unchecked: 0 };
    await inBatches(this.clients, concurrency, async (c, i) => {
      if (!c.snapshotted || !c.open) {
        sum.unchecked++;
        return;
      }
      let diff: StateDifference;
      try {
        const res = await fetch(`${engines[i % engines.length]}/v1/vehicles?${vehiclesQuery(c.subscription)}`, {
          headers: { authorization: `Bearer ${this.tokens(this.planned[i].grant)}` },
        });
        if (res.status !== 200) throw new Error(`GET /v1/vehicles answered ${res.status}`);
        diff = compareState(c.state, ((await res.json()) as { vehicles: { id: string; ts?: number }[] }).vehicles);
      } catch {
        sum.unchecked++;
        return;
      }
      sum.clients++;
      sum.expected += diff.expected;
      sum.matched += diff.matched;
      sum.lost += lostUpdates(diff);
      sum.missing += diff.missing.length;
      sum.stale += diff.stale.length;
      sum.extra += diff.extra.length;
      sum.ahead += diff.ahead.length;
      for (const [kind, ids] of [['missing', diff.missing], ['stale', diff.stale], ['extra', diff.extra], ['ahead', diff.ahead]] as const) {
        if (ids.length > 0 && sum.examples.length < 10) sum.examples.push(`client ${i} (${c.subscription.kind}): ${kind} ${ids.slice(0, 3).join(', ')}`);
      }
    });
    return sum;
  }

  close(): void {
    for (const c of this.clients) c.close();
  }
}
