import type { Redis } from 'ioredis';
import type { VehicleView } from '../../actors/domain/vehicle-state.js';
import type { Grant } from '../../actors/ports/client-connection.js';
import { inScope, type Subscription } from '../../actors/subscription.js';
import { haversineKm } from '../../actors/domain/geo.js';
import { HotStateKeys, readStates } from './hot-state.js';

const MGET_CHUNK = 1000;

/** Candidate vehicle ids of a bbox from the GEO index (a box a little larger; the exact test follows). */
async function idsInBox(redis: Redis, keys: HotStateKeys, [w, s, e, n]: readonly [number, number, number, number]): Promise<string[]> {
  const east = e >= w ? e : e + 360;
  const cx = ((w + east) / 2 + 540) % 360 - 180;
  const cy = (s + n) / 2;
  const widest = Math.abs(s) < Math.abs(n) ? s : n;
  const lat = s <= 0 && n >= 0 ? 0 : widest;
  const widthKm = Math.min(40_000, haversineKm(lat, 0, lat, Math.min(180, (east - w) / 2)) * 2 * 1.02 + 1);
  const heightKm = haversineKm(s, 0, n, 0) * 1.02 + 1;
  return (await redis.geosearch(keys.geo, 'FROMLONLAT', cx, cy, 'BYBOX', widthKm, heightKm, 'km')) as string[];
}

async function candidateIds(redis: Redis, keys: HotStateKeys, grant: Grant, sub: Subscription): Promise<string[]> {
  if (sub.vehicles) return [...sub.vehicles];
  if (sub.bbox) return idsInBox(redis, keys, sub.bbox);
  const companies = sub.companies ? [...sub.companies] : grant !== null ? [...grant] : await redis.smembers(keys.companies);
  if (companies.length === 0) return [];
  return redis.sunion(...companies.map((c) => keys.company(c)));
}

/**
 * What a new subscription sees at once, read from the hot store the way a classic realtime
 * service does it: candidate ids (GEO index, company sets or the given ids), one MGET per
 * thousand states, the exact filter, at most `limit`.
 */
export async function readSnapshot(redis: Redis, keys: HotStateKeys, grant: Grant, sub: Subscription, limit: number): Promise<VehicleView[]> {
  const ids = await candidateIds(redis, keys, grant, sub);
  const out: VehicleView[] = [];
  for (let i = 0; i < ids.length && out.length < limit; i += MGET_CHUNK) {
    for (const s of await readStates(redis, keys, ids.slice(i, i + MGET_CHUNK))) {
      if (s !== null && inScope(sub, grant, s.view)) out.push(s.view);
      if (out.length >= limit) break;
    }
  }
  return out;
}
