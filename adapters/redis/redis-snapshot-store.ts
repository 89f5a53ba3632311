import { randomUUID } from 'node:crypto';
import type { ChainableCommander, Redis } from 'ioredis';
import { checkPartition, FencedWriteError, type CompletenessMark, type LeaseWait, type OwnershipLease, type SnapshotStore } from '../../actors/ports/snapshot-store.js';
import type { VehicleSnapshot } from '../../actors/domain/vehicle-state.js';
import { closeRedis, execChecked } from './redis-connection.js';
import { packSnapshot, unpackSnapshot, type SnapshotFormat } from '../codec/snapshot-codec.js';

export { packSnapshot, unpackSnapshot };

/**
 * Fenced batch write. KEYS[1] = epoch key, KEYS[2] = snapshot hash; ARGV[1] = the writer's
 * epoch, ARGV[2..] = vehicleId, snapshot, vehicleId, snapshot, ...
 * Returns {1, epoch} when written, {0, currentEpoch} when fenced (nothing written).
 * HSET is called per 500 pairs so `unpack` stays far below Lua's C-stack limit.
 */
const SAVE_LUA = `
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current ~= tonumber(ARGV[1]) then
  return {0, current}
end
local n = #ARGV
for i = 2, n, 1000 do
  redis.call('HSET', KEYS[2], unpack(ARGV, i, math.min(i + 999, n)))
end
return {1, current}
`;

const SAVE_COMMAND = 'fleetlineSnapshotSave';

/**
 * KEYS[1] = epoch key, KEYS[2] = complete key; ARGV[1] = the writer's epoch, ARGV[2] = the
 * durable tier's epoch of the same ownership. Sets the mark to "hot:durable". Returns {1|0, current}.
 */
const MARK_LUA = `
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current ~= tonumber(ARGV[1]) then
  return {0, current}
end
redis.call('SET', KEYS[2], ARGV[1] .. ':' .. ARGV[2])
return {1, current}
`;

const MARK_COMMAND = 'fleetlineSnapshotMark';

/**
 * KEYS[1] = epoch key, KEYS[2] = lease key; ARGV[1] = the holder's epoch, ARGV[2] = holder,
 * ARGV[3] = TTL (ms). Sets the lease only for the current epoch's owner. Returns 1 or 0.
 */
const LEASE_LUA = `
if tonumber(redis.call('GET', KEYS[1]) or '0') ~= tonumber(ARGV[1]) then
  return 0
end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return 1
`;

/** KEYS[1] = lease key; ARGV[1] = holder. Deletes the lease when it is the holder's. */
const DROP_LEASE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`;

const LEASE_COMMAND = 'fleetlineSnapshotLease';
const DROP_LEASE_COMMAND = 'fleetlineSnapshotDropLease';

interface WithLeaseCommands {
  fleetlineSnapshotLease(epochKey: string, leaseKey: string, epoch: string, holder: string, ttlMs: string): Promise<number>;
  fleetlineSnapshotDropLease(leaseKey: string, holder: string): Promise<number>;
}

interface WithMarkCommand {
  fleetlineSnapshotMark(epochKey: string, completeKey: string, epoch: string, durableEpoch: string): Promise<SaveResult>;
}

type SaveResult = [number, number];
type SaveArgs = [epochKey: string, hashKey: string, epoch: string, ...pairs: (string | Buffer)[]];
interface WithSaveCommand {
  fleetlineSnapshotSave(...args: SaveArgs): Promise<SaveResult>;
}
interface PipelineWithSaveCommand {
  fleetlineSnapshotSave(...args: SaveArgs): ChainableCommander;
}

export interface RedisSnapshotStoreOptions {
  /** The layout snapshots are written in (default 2; 1 during a rolling upgrade, SNAPSHOT_FORMAT). */
  readonly format?: SnapshotFormat;
  /** Key prefix (default `fleetline:`). */
  readonly prefix?: string;
  /** Snapshots per fenced script call (default 5000). */
  readonly chunkSize?: number;
  /** HSCAN COUNT hint when loading (default 1000). */
  readonly scanCount?: number;
  /** close() quits the client (default false: the caller owns it). */
  readonly ownsClient?: boolean;
  /** Who holds this store's ownership leases (default: unique per store, i.e. per process). */
  readonly leaseHolder?: string;
  /** How often awaitRelease() looks at a lease (default 20 ms). */
  readonly leasePollMs?: number;
}

/**
 * Hot snapshot tier in Redis.
 *   {prefix}epoch:{partition}  string, INCR on acquire: the partition's fencing epoch
 *   {prefix}snap:{partition}   hash vehicleId -> MessagePack(VehicleSnapshot)
 *   {prefix}complete:{partition}  set by a clean hand-off when the hash holds every vehicle of the
 *                              partition, removed by the next acquire (see CompletenessMark)
 *   {prefix}lease:{partition}  the live owner's process, with a TTL (see OwnershipLease)
 * Every write goes through one Lua script that compares the epoch and HSETs the whole chunk
 * atomically, so a node that lost the partition can never overwrite the new owner's state.
 */
export class RedisSnapshotStore implements SnapshotStore, CompletenessMark, OwnershipLease {
  readonly kind = 'redis';
  readonly prefix: string;
  readonly leaseHolder: string;
  private readonly chunkSize: number;
  private readonly scanCount: number;

  constructor(private readonly redis: Redis, private readonly options: RedisSnapshotStoreOptions = {}) {
    this.prefix = options.prefix ?? 'fleetline:';
    this.chunkSize = Math.max(1, options.chunkSize ?? 5000);
    this.scanCount = Math.max(10, options.scanCount ?? 1000);
    if (!(SAVE_COMMAND in redis)) redis.defineCommand(SAVE_COMMAND, { numberOfKeys: 2, lua: SAVE_LUA });
    if (!(MARK_COMMAND in redis)) redis.defineCommand(MARK_COMMAND, { numberOfKeys: 2, lua: MARK_LUA });
    if (!(LEASE_COMMAND in redis)) redis.defineCommand(LEASE_COMMAND, { numberOfKeys: 2, lua: LEASE_LUA });
    if (!(DROP_LEASE_COMMAND in redis)) redis.defineCommand(DROP_LEASE_COMMAND, { numberOfKeys: 1, lua: DROP_LEASE_LUA });
    this.leaseHolder = options.leaseHolder ?? randomUUID();
  }

  leaseKey(partition: number): string {
    return `${this.prefix}lease:${partition}`;
  }

  async holdLease(partition: number, epoch: number, ttlMs: number): Promise<void> {
    checkPartition(partition);
    const ttl = String(Math.max(1, Math.round(ttlMs)));
    await (this.redis as unknown as WithLeaseCommands).fleetlineSnapshotLease(this.epochKey(partition), this.leaseKey(partition), String(epoch), this.leaseHolder, ttl);
  }

  async dropLease(partition: number): Promise<void> {
    checkPartition(partition);
    await (this.redis as unknown as WithLeaseCommands).fleetlineSnapshotDropLease(this.leaseKey(partition), this.leaseHolder);
  }

  async awaitRelease(partition: number, timeoutMs: number): Promise<LeaseWait> {
    checkPartition(partition);
    const key = this.leaseKey(partition);
    const deadline = Date.now() + timeoutMs;
    const pollMs = Math.max(1, this.options.leasePollMs ?? 20);
    let held = false;
    for (;;) {
      const holder = await this.redis.get(key);
      if (holder === null) return held ? 'released' : 'none';
      if (holder === this.leaseHolder) return 'own';
      if (Date.now() >= deadline) return 'timed-out';
      held = true;
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }

  completeKey(partition: number): string {
    return `${this.prefix}complete:${partition}`;
  }

  async takeCompleteMark(partition: number, epoch: number, durableEpoch: number): Promise<boolean> {
    checkPartition(partition);
    const mark = await this.redis.getdel(this.completeKey(partition));
    const [hot, durable] = (mark ?? '').split(':').map(Number);
    // Both epochs of the previous ownership: Redis restored from a dump brings its own epoch
    // back, PostgreSQL's moves on regardless, so a mark from an old copy never matches.
    return mark !== null && hot === epoch - 1 && durable === durableEpoch - 1;
  }

  async markComplete(partition: number, epoch: number, durableEpoch: number): Promise<void> {
    checkPartition(partition);
    const [ok, current] = await (this.redis as unknown as WithMarkCommand).fleetlineSnapshotMark(this.epochKey(partition), this.completeKey(partition), String(epoch), String(durableEpoch));
    if (ok !== 1) throw new FencedWriteError(partition, epoch, current);
  }

  epochKey(partition: number): string {
    return `${this.prefix}epoch:${partition}`;
  }

  snapshotKey(partition: number): string {
    return `${this.prefix}snap:${partition}`;
  }

  async acquire(partition: number): Promise<number> {
    checkPartition(partition);
    return this.redis.incr(this.epochKey(partition));
  }

  async save(partition: number, epoch: number, snapshots: readonly VehicleSnapshot[]): Promise<void> {
    checkPartition(partition);
    const epochKey = this.epochKey(partition);
    const hashKey = this.snapshotKey(partition);
    const epochArg = String(epoch);
    if (snapshots.length === 0) {
      // Still fenced: an empty save by a stale owner must fail like any other.
      const [ok, current] = await (this.redis as unknown as WithSaveCommand).fleetlineSnapshotSave(epochKey, hashKey, epochArg);
      if (ok !== 1) throw new FencedWriteError(partition, epoch, current);
      return;
    }
    // All chunks go out in one pipeline (one round trip); each is its own fenced script call,
    // so a takeover between two chunks fences every chunk after it.
    const pipeline = this.redis.pipeline();
    for (let start = 0; start < snapshots.length; start += this.chunkSize) {
      const end = Math.min(start + this.chunkSize, snapshots.length);
      const args: SaveArgs = [epochKey, hashKey, epochArg];
      for (let i = start; i < end; i++) {
        const s = snapshots[i];
        args.push(s.vehicleId, packSnapshot(s, this.options.format));
      }
      (pipeline as unknown as PipelineWithSaveCommand).fleetlineSnapshotSave(...args);
    }
    let fenced: number | undefined;
    for (const value of await execChecked(pipeline, 'snapshot save')) {
      const [ok, current] = value as SaveResult;
      if (ok !== 1) fenced = current;
    }
    if (fenced !== undefined) throw new FencedWriteError(partition, epoch, fenced);
  }

  async load(partition: number): Promise<VehicleSnapshot[]> {
    const out = new Map<string, VehicleSnapshot>();
    for await (const page of this.loadPages(partition)) for (const s of page) out.set(s.vehicleId, s);
    return [...out.values()];
  }

  /**
   * HSCAN pages, not HGETALL: a partition can hold 100k snapshots, too big for one reply. The
   * next page is requested before this one is decoded, so Redis and the decoding overlap.
   */
  async *loadPages(partition: number): AsyncIterable<readonly VehicleSnapshot[]> {
    checkPartition(partition);
    const key = this.snapshotKey(partition);
    let page: Promise<[Buffer, Buffer[]]> | null = this.redis.hscanBuffer(key, '0', 'COUNT', this.scanCount);
    try {
      while (page !== null) {
        const [next, elements]: [Buffer, Buffer[]] = await page;
        const cursor: string = next.toString('utf8');
        page = cursor === '0' ? null : this.redis.hscanBuffer(key, cursor, 'COUNT', this.scanCount);
        const snapshots = new Array<VehicleSnapshot>(elements.length >> 1);
        for (let i = 1, j = 0; i < elements.length; i += 2, j++) snapshots[j] = unpackSnapshot(elements[i]);
        if (snapshots.length > 0) yield snapshots;
      }
    } finally {
      // A consumer that stops early leaves the prefetched page unread: its failure is nobody's.
      page?.catch(() => {});
    }
  }

  async loadOne(partition: number, vehicleId: string): Promise<VehicleSnapshot | undefined> {
    checkPartition(partition);
    const bytes = await this.redis.hgetBuffer(this.snapshotKey(partition), vehicleId);
    return bytes === null ? undefined : unpackSnapshot(bytes);
  }

  async loadMany(partition: number, vehicleIds: readonly string[]): Promise<VehicleSnapshot[]> {
    checkPartition(partition);
    if (vehicleIds.length === 0) return [];
    const values = await this.redis.hmgetBuffer(this.snapshotKey(partition), ...vehicleIds);
    return values.flatMap((bytes) => (bytes === null ? [] : [unpackSnapshot(bytes)]));
  }

  /** Vehicles in the hot copy of a partition (HLEN). */
  count(partition: number): Promise<number> {
    return this.redis.hlen(this.snapshotKey(partition));
  }

  async close(): Promise<void> {
    if (this.options.ownsClient) await closeRedis(this.redis);
  }
}
