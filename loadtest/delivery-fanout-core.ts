import { setTimeout as sleep } from 'node:timers/promises';
import { dispatch, start, stop, type Ref } from 'nact';
import { DeliveryHub } from '../actors/delivery-hub.js';
import { SpatialStateIndex } from '../actors/spatial-state-index.js';
import { spawnSubscriber, type SubscriberMsg } from '../actors/subscriber-actor.js';
import { diff } from '../actors/vehicle-logic.js';
import { NO_GROUPS } from '../actors/subscription.js';
import { noMetrics } from '../actors/ports/engine-metrics.js';
import type { ClientConnection, Session } from '../actors/ports/client-connection.js';
import type { VehicleView } from '../actors/domain/vehicle-state.js';
import { decodeMsgpack, encodeMsgpack } from '../adapters/codec/msgpack-codec.js';
import { msgpackFrameEncoder } from '../adapters/codec/frame-assembly.js';

export interface FanoutCoreResult {
  readonly delivered: number;
  readonly cpuUs: number;
  readonly bytes: number;
}

type Box = readonly [number, number, number, number];

/**
 * The delivery core alone, in this process: the DeliveryHub and one real subscriber actor per
 * connection, whose socket only counts bytes. No network, no ingest, no client: the CPU per
 * delivered update of routing, coalescing, encoding and framing, for encode-once against
 * per-client encoding, undisturbed by the other processes of a shared machine.
 */
export async function runFanoutCore(mode: 'once' | 'per-client', subscribers: number, fleet: readonly VehicleView[], viewports: readonly Box[], rounds: number, perRound: number): Promise<FanoutCoreResult> {
  const system = start();
  const index = new SpatialStateIndex();
  const hub = new DeliveryHub();
  let delivered = 0;
  let bytes = 0;
  let sends = 0;
  const metrics = { ...noMetrics, deliveryLatency: () => { delivered++; } };
  const conn: ClientConnection = { send: (b) => { bytes += b.byteLength; sends++; return true; }, bufferedAmount: () => 0, close: () => {} };
  const views = fleet.map((v) => ({ ...v }));
  index.upsertMany(views);
  const refs: Ref<SubscriberMsg>[] = [];
  for (let i = 0; i < subscribers; i++) {
    const ref = spawnSubscriber(system, `core-${i}`, conn, {
      index, hub, membership: NO_GROUPS, metrics, encode: encodeMsgpack, decode: decodeMsgpack,
      ...(mode === 'once' ? { frames: msgpackFrameEncoder } : {}),
      verifier: { verify: async () => null, verifySession: async (): Promise<Session> => ({ grant: null, expiresAt: Date.now() + 3_600_000 }) },
      options: { flushMs: 30, maxBufferedBytes: 1 << 20, maxQueuedBytes: 1 << 30, maxFramesPerSecond: 1000, authTimeoutMs: 10_000, snapshotLimit: 100_000 },
    });
    dispatch(ref, { kind: 'open', token: 'admin' });
    dispatch(ref, { kind: 'frame', data: Buffer.from(JSON.stringify({ t: 'sub', bbox: viewports[i % viewports.length], zoom: 13, fields: 'min' })), isBinary: false });
    refs.push(ref);
  }
  while (sends < 2 * subscribers) await sleep(20); // ready + snap each
  bytes = 0;
  const cpu0 = process.cpuUsage();
  let next = 0;
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < perRound; k++) {
      const i = next++ % views.length;
      const prev = views[i];
      const v: VehicleView = { ...prev, lat: prev.lat + (prev.moving ? 0.0002 : 0), ts: prev.ts + 1000 };
      views[i] = v;
      index.upsert(v, v.lat !== prev.lat);
      hub.publish({ id: v.id, company: v.company, delta: diff(prev, v), view: v, receivedAt: Date.now() });
    }
    await sleep(10);
  }
  await sleep(1200); // the last flushes, stopped vehicles' included
  const cpu = process.cpuUsage(cpu0);
  for (const ref of refs) dispatch(ref, { kind: 'closed' });
  await sleep(100);
  stop(system);
  return { delivered, bytes, cpuUs: cpu.user + cpu.system };
}
