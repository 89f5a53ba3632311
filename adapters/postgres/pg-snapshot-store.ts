import type pg from 'pg';
import { checkPartition, FencedWriteError, type SnapshotStore } from '../../actors/ports/snapshot-store.js';
import type { VehicleSnapshot } from '../../actors/domain/vehicle-state.js';
import { withTransaction } from './pg-pool.js';
import { packSnapshot, unpackSnapshot, type SnapshotFormat } from '../codec/snapshot-codec.js';

export interface PgSnapshotStoreOptions {
  /** The layout snapshots are written in (default 2; 1 during a rolling upgrade, SNAPSHOT_FORMAT). */
  readonly format?: SnapshotFormat;
  /** Rows per upsert statement (default 5000). */
  readonly chunkSize?: number;
  /**
   * Rows per page when loading (default 2000). A page is parsed and decoded in one go, and a
   * restore applies points beside it: 10000-row pages held a node's event loop for up to a second.
   */
  readonly pageSize?: number;
  /** close() ends the pool (default false: the caller owns it). */
  readonly ownsPool?: boolean;
}

const ACQUIRE = `
INSERT INTO partition_epochs (partition, epoch) VALUES ($1, 1)
ON CONFLICT (partition) DO UPDATE SET epoch = partition_epochs.epoch + 1
RETURNING epoch`;

const UPSERT = `
INSERT INTO vehicle_snapshots (vehicle_id, partition, snapshot, updated_at)
SELECT v, $1, s, now() FROM unnest($2::text[], $3::bytea[]) AS t(v, s)
ON CONFLICT (vehicle_id) DO UPDATE
  SET partition = EXCLUDED.partition, snapshot = EXCLUDED.snapshot, updated_at = EXCLUDED.updated_at`;

const PAGE = `
SELECT vehicle_id, snapshot FROM vehicle_snapshots
 WHERE partition = $1 AND vehicle_id > $2
 ORDER BY vehicle_id
 LIMIT $3`;

/**
 * Durable snapshot tier in PostgreSQL: vehicle_snapshots (one row per vehicle, MessagePack
 * bytea) fenced by partition_epochs. A save locks the partition's epoch row (SELECT ... FOR
 * UPDATE) for its whole transaction, so an acquire by another node waits for an in-flight save
 * and every save after the acquire sees the new epoch and is rejected.
 */
export class PgSnapshotStore implements SnapshotStore {
  readonly kind = 'postgres';
  private readonly chunkSize: number;
  private readonly pageSize: number;

  constructor(private readonly pool: pg.Pool, private readonly options: PgSnapshotStoreOptions = {}) {
    this.chunkSize = Math.max(1, options.chunkSize ?? 5000);
    this.pageSize = Math.max(1, options.pageSize ?? 2000);
  }

  async acquire(partition: number): Promise<number> {
    checkPartition(partition);
    const { rows } = await this.pool.query<{ epoch: string }>(ACQUIRE, [partition]);
    return Number(rows[0].epoch);
  }

  async save(partition: number, epoch: number, snapshots: readonly VehicleSnapshot[]): Promise<void> {
    checkPartition(partition);
    // One row per vehicle: ON CONFLICT DO UPDATE may not touch a row twice in one statement.
    const latest = new Map<string, VehicleSnapshot>();
    for (const s of snapshots) latest.set(s.vehicleId, s);
    const batch = [...latest.values()];
    await withTransaction(this.pool, async (client) => {
      const { rows } = await client.query<{ epoch: string }>('SELECT epoch FROM partition_epochs WHERE partition = $1 FOR UPDATE', [partition]);
      const current = rows.length === 0 ? 0 : Number(rows[0].epoch);
      if (current !== epoch) throw new FencedWriteError(partition, epoch, current);
      for (let start = 0; start < batch.length; start += this.chunkSize) {
        const end = Math.min(start + this.chunkSize, batch.length);
        const ids = new Array<string>(end - start);
        const blobs = new Array<Buffer>(end - start);
        for (let i = start; i < end; i++) {
          ids[i - start] = batch[i].vehicleId;
          blobs[i - start] = packSnapshot(batch[i], this.options.format);
        }
        await client.query(UPSERT, [partition, ids, byteaArray(blobs)]);
      }
    });
  }

  async load(partition: number): Promise<VehicleSnapshot[]> {
    const out: VehicleSnapshot[] = [];
    for await (const page of this.loadPages(partition)) for (const s of page) out.push(s);
    return out;
  }

  /**
   * Keyset pages over (partition, vehicle_id): bounded statements and result sets. The next page
   * is requested before this one is decoded, so PostgreSQL and the decoding overlap.
   */
  async *loadPages(partition: number): AsyncIterable<readonly VehicleSnapshot[]> {
    checkPartition(partition);
    type Row = { vehicle_id: string; snapshot: Buffer };
    const page = (after: string) => this.pool.query<Row>(PAGE, [partition, after, this.pageSize]);
    let next: Promise<pg.QueryResult<Row>> | null = page('');
    try {
      while (next !== null) {
        const { rows }: pg.QueryResult<Row> = await next;
        next = rows.length < this.pageSize ? null : page(rows[rows.length - 1].vehicle_id);
        if (rows.length > 0) yield rows.map((r) => unpackSnapshot(r.snapshot));
      }
    } finally {
      // A consumer that stops early leaves the prefetched page unread: its failure is nobody's.
      next?.catch(() => {});
    }
  }

  async loadOne(partition: number, vehicleId: string): Promise<VehicleSnapshot | undefined> {
    checkPartition(partition);
    const { rows } = await this.pool.query<{ snapshot: Buffer }>('SELECT snapshot FROM vehicle_snapshots WHERE vehicle_id = $1 AND partition = $2', [vehicleId, partition]);
    return rows.length === 0 ? undefined : unpackSnapshot(rows[0].snapshot);
  }

  async loadMany(partition: number, vehicleIds: readonly string[]): Promise<VehicleSnapshot[]> {
    checkPartition(partition);
    if (vehicleIds.length === 0) return [];
    const { rows } = await this.pool.query<{ snapshot: Buffer }>('SELECT snapshot FROM vehicle_snapshots WHERE partition = $1 AND vehicle_id = ANY($2::text[])', [partition, vehicleIds]);
    return rows.map((r) => unpackSnapshot(r.snapshot));
  }

  /** The partition's current epoch (0 when never acquired). */
  async currentEpoch(partition: number): Promise<number> {
    const { rows } = await this.pool.query<{ epoch: string }>('SELECT epoch FROM partition_epochs WHERE partition = $1', [partition]);
    return rows.length === 0 ? 0 : Number(rows[0].epoch);
  }

  async close(): Promise<void> {
    if (this.options.ownsPool) await this.pool.end();
  }
}

/** OID of bytea in pg_type. */
const BYTEA_OID = 17;

/**
 * A bytea[] parameter in PostgreSQL's binary array format (what array_recv reads). node-pg
 * sends a Buffer parameter in binary format, so the snapshots travel as raw bytes; an array of
 * Buffers would otherwise be sent as a text literal of hex strings, twice the size plus escaping.
 *   int32 ndim = 1, int32 has-nulls = 0, int32 element type OID, int32 length, int32 lower bound = 1,
 *   then per element: int32 byte length, bytes.
 */
export function byteaArray(items: readonly Uint8Array[]): Buffer {
  if (items.length === 0) {
    const empty = Buffer.alloc(12); // ndim 0: the empty array
    empty.writeInt32BE(BYTEA_OID, 8);
    return empty;
  }
  let size = 20;
  for (const b of items) size += 4 + b.length;
  const out = Buffer.allocUnsafe(size);
  out.writeInt32BE(1, 0);
  out.writeInt32BE(0, 4);
  out.writeInt32BE(BYTEA_OID, 8);
  out.writeInt32BE(items.length, 12);
  out.writeInt32BE(1, 16);
  let at = 20;
  for (const b of items) {
    out.writeInt32BE(b.length, at);
    out.set(b, at + 4);
    at += 4 + b.length;
  }
  return out;
}
