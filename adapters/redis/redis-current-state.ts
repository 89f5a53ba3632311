import type { Redis } from 'ioredis';
import type { CurrentStateStore } from '../../actors/ports/current-state-store.js';
import type { BBox } from '../../actors/ports/state-index.js';
import { inBBox } from '../../actors/ports/state-index.js';
import type { VehicleView } from '../../actors/domain/vehicle-state.js';
import { closeRedis, execChecked } from './redis-connection.js';

export interface RedisCurrentStateOptions {
  /** Key prefix (default `fleetline:`). */
  readonly prefix?: string;
  /** Vehicles per script run in write(), per pipeline in remove() (default 1000). */
  readonly chunkSize?: number;
  /** close() quits the client (default false: the caller owns it). */
  readonly ownsClient?: boolean;
}

/** Redis GEO cannot index latitudes beyond this (Web Mercator limit); such points are clamped. */
const GEO_MAX_LAT = 85.05112878;
/** Redis' own earth radius (geohash_helper.c), so box sizes match its distance checks. */
const REDIS_EARTH_RADIUS_M = 6372797.560856;
const RAD = Math.PI / 180;

/** Optional VehicleView fields: deleted from the hash when a view no longer has them. */
const OPTIONAL_FIELDS = ['company', 'name', 'plate', 'type', 'course', 'alt', 'ignition', 'fuel', 'odometer', 'attrs'] as const;
const NUMBER_FIELDS = ['lat', 'lon', 'ts', 'speed', 'course', 'alt', 'fuel', 'odometer'] as const;
const BOOLEAN_FIELDS = ['ignition', 'moving'] as const;

/**
 * Current state published for readers outside the engine:
 *   {prefix}v:{vehicleId}  hash of the VehicleView fields as strings (numbers in JS notation,
 *                          booleans "true"/"false", a null company is an absent field, the
 *                          device attributes `attrs` as a JSON object)
 *   {prefix}geo            GEO index (sorted set) member vehicleId at (lon, lat)
 * write() runs one Lua script per 1000 vehicles (hash fields set and dropped, GEO member
 * moved): a command per vehicle costs the client ~30 µs, which made 100k vehicles take 4 s.
 * Nothing here is on the per-point hot path; it runs at checkpoints.
 */
export class RedisCurrentStateStore implements CurrentStateStore {
  readonly kind = 'redis';
  readonly prefix: string;
  private readonly chunkSize: number;

  constructor(private readonly redis: Redis, private readonly options: RedisCurrentStateOptions = {}) {
    this.prefix = options.prefix ?? 'fleetline:';
    this.chunkSize = Math.max(1, options.chunkSize ?? 1000);
    if (!(WRITE_COMMAND in redis)) redis.defineCommand(WRITE_COMMAND, { lua: WRITE_LUA });
  }

  viewKey(id: string): string {
    return `${this.prefix}v:${id}`;
  }

  get geoKey(): string {
    return `${this.prefix}geo`;
  }

  async write(views: readonly VehicleView[]): Promise<void> {
    const calls: Promise<unknown>[] = [];
    for (let start = 0; start < views.length; start += this.chunkSize) {
      const end = Math.min(start + this.chunkSize, views.length);
      const keys: string[] = [this.geoKey];
      const args: (string | number)[] = [];
      for (let i = start; i < end; i++) {
        const v = views[i];
        keys.push(this.viewKey(v.id));
        appendViewArgs(args, v);
      }
      // Sent back to back (ioredis pipelines them); each chunk is one script run.
      calls.push((this.redis as Redis & WriteViewsCommand)[WRITE_COMMAND](keys.length, ...keys, ...args));
    }
    await Promise.all(calls);
  }

  async remove(ids: readonly string[]): Promise<void> {
    for (let start = 0; start < ids.length; start += this.chunkSize) {
      const chunk = ids.slice(start, start + this.chunkSize);
      const pipeline = this.redis.pipeline();
      pipeline.unlink(...chunk.map((id) => this.viewKey(id)));
      pipeline.zrem(this.geoKey, ...chunk);
      await execChecked(pipeline, 'current state remove');
    }
  }

  async get(id: string): Promise<VehicleView | undefined> {
    const hash = await this.redis.hgetall(this.viewKey(id));
    return fromHash(id, hash);
  }

  /**
   * Ids of the vehicles inside a [west, south, east, north] box, via GEOSEARCH BYBOX. Redis
   * measures boxes in metres, so each query box is sized to contain the whole degree box and
   * the hits are filtered exactly by their coordinates. Boxes crossing the antimeridian or
   * wider than 90 degrees are split into strips.
   */
  async searchBox(bbox: BBox, limit?: number): Promise<string[]> {
    const found = new Set<string>();
    for (const strip of strips(bbox)) {
      const [w, s, e, n] = strip;
      const south = Math.max(s, -GEO_MAX_LAT);
      const north = Math.min(n, GEO_MAX_LAT);
      if (south > north) continue;
      const cx = (w + e) / 2;
      const cy = (south + north) / 2;
      const nearestToEquator = south <= 0 && north >= 0 ? 0 : Math.min(Math.abs(south), Math.abs(north));
      const width = 2 * lonDistanceM(nearestToEquator, (e - w) / 2) * 1.001 + 2;
      const height = (north - south) * RAD * REDIS_EARTH_RADIUS_M * 1.001 + 2;
      const args: (string | number)[] = [this.geoKey, 'FROMLONLAT', cx, cy, 'BYBOX', width, height, 'm', 'WITHCOORD'];
      const reply = (await this.redis.call('GEOSEARCH', ...args)) as [string, [string, string]][];
      for (const [id, [lon, lat]] of reply) {
        if (inBBox(bbox, Number(lon), Number(lat))) found.add(id);
        if (limit !== undefined && found.size >= limit) return [...found];
      }
    }
    return [...found];
  }

  async close(): Promise<void> {
    if (this.options.ownsClient) await closeRedis(this.redis);
  }
}

function clampLat(lat: number): number {
  return Math.max(-GEO_MAX_LAT, Math.min(GEO_MAX_LAT, lat));
}

/** East-west distance in metres of `dLonDeg` degrees at latitude `lat` (haversine, as Redis). */
function lonDistanceM(lat: number, dLonDeg: number): number {
  const a = Math.cos(lat * RAD) ** 2 * Math.sin((dLonDeg * RAD) / 2) ** 2;
  return 2 * REDIS_EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(a)));
}

function strips(b: BBox): BBox[] {
  const [w, s, e, n] = b;
  const spans: [number, number][] = w <= e ? [[w, e]] : [[w, 180], [-180, e]];
  const out: BBox[] = [];
  for (const [from, to] of spans) {
    let x = from;
    do {
      const end = Math.min(x + 90, to);
      out.push([x, s, end, n]);
      x = end;
    } while (x < to);
  }
  return out;
}

/**
 * KEYS[1] the GEO index, KEYS[2..] one hash per vehicle; ARGV per vehicle, in KEYS order:
 * lon, lat, member, nset, ndel, then nset field/value pairs, then ndel field names.
 */
const WRITE_LUA = `
local geo = KEYS[1]
local a = 1
for k = 2, #KEYS do
  local key = KEYS[k]
  local nset = tonumber(ARGV[a + 3])
  local ndel = tonumber(ARGV[a + 4])
  redis.call('GEOADD', geo, ARGV[a], ARGV[a + 1], ARGV[a + 2])
  a = a + 5
  redis.call('HSET', key, unpack(ARGV, a, a + 2 * nset - 1))
  a = a + 2 * nset
  if ndel > 0 then redis.call('HDEL', key, unpack(ARGV, a, a + ndel - 1)) end
  a = a + ndel
end
return #KEYS - 1`;
const WRITE_COMMAND = 'fleetlineWriteViews';
type WriteViewsCommand = Record<typeof WRITE_COMMAND, (numKeys: number, ...keysAndArgs: (string | number)[]) => Promise<number>>;

/** The script arguments of one view (see WRITE_LUA): the hash as strings, absent optional fields dropped. */
function appendViewArgs(out: (string | number)[], v: VehicleView): void {
  const set: string[] = ['id', v.id, 'lat', String(v.lat), 'lon', String(v.lon), 'ts', String(v.ts), 'speed', String(v.speed), 'moving', String(v.moving)];
  const unset: string[] = [];
  for (const f of OPTIONAL_FIELDS) {
    const value = v[f];
    if (value === undefined || value === null) unset.push(f);
    else set.push(f, typeof value === 'object' ? JSON.stringify(value) : String(value));
  }
  out.push(v.lon, clampLat(v.lat), v.id, set.length / 2, unset.length);
  for (const x of set) out.push(x);
  for (const x of unset) out.push(x);
}

function fromHash(id: string, h: Record<string, string>): VehicleView | undefined {
  if (h.lat === undefined || h.lon === undefined) return undefined;
  const view: Record<string, unknown> = { id, company: h.company ?? null };
  if (h.name !== undefined) view.name = h.name;
  if (h.plate !== undefined) view.plate = h.plate;
  if (h.type !== undefined) view.type = h.type;
  for (const f of NUMBER_FIELDS) if (h[f] !== undefined) view[f] = Number(h[f]);
  for (const f of BOOLEAN_FIELDS) if (h[f] !== undefined) view[f] = h[f] === 'true';
  if (h.attrs !== undefined) view.attrs = JSON.parse(h.attrs) as unknown;
  if (view.speed === undefined) view.speed = 0;
  if (view.ts === undefined) view.ts = 0;
  if (view.moving === undefined) view.moving = false;
  return view as unknown as VehicleView;
}
