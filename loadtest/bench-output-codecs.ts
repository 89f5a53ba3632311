/**
 * `npx tsx loadtest/bench-output-codecs.ts [--views 20000] [--rounds 5]`: the CPU a produce request
 * of vehicle.updates costs per codec. Encodes N realistic views (MessagePack, as a checkpoint
 * publishes them) into a Kafka record batch the way kafkajs does, then compresses it with every
 * codec the engine registers (adapters/kafka/kafka-codecs.ts), on the main thread, and reports
 * CPU time (process.cpuUsage: the codecs that run on libuv's thread pool count too) and bytes.
 * No servers needed. Numbers, not assertions.
 */
import { parseArgs } from 'node:util';
import { loadavg } from 'node:os';
import kafkajs, { CompressionTypes } from 'kafkajs';
import { registerKafkaCodecs } from '../adapters/kafka/kafka-codecs.js';
import { encodeMsgpack } from '../adapters/codec/msgpack-codec.js';
import { RouteSimulator } from '../engine/simulator/route-simulator.js';
import { applyPoint, newVehicleState } from '../actors/vehicle-logic.js';
import { DEFAULT_SETTINGS } from '../actors/domain/domain-settings.js';
import type { VehicleEvent } from '../actors/domain/vehicle-event.js';

const { values } = parseArgs({ options: { views: { type: 'string', default: '20000' }, rounds: { type: 'string', default: '5' } } });
const VIEWS = Number(values.views);
const ROUNDS = Number(values.rounds);

registerKafkaCodecs();
interface Codec { compress(encoder: { buffer: Buffer }): Promise<Buffer> }
const codecs = kafkajs.CompressionCodecs as Record<number, () => Codec>;

// Views of a fleet that has driven a while (the simulator's, through the real vehicle logic).
const sim = new RouteSimulator({ devices: VIEWS, seed: 7 });
const states = new Map<string, ReturnType<typeof newVehicleState>>();
const events: VehicleEvent[] = [];
const t0 = Date.now() - 600_000;
for (let round = 0; round < 10; round++) {
  for (const p of sim.tick(t0 + round * 1000)) {
    let st = states.get(p.deviceId);
    if (!st) states.set(p.deviceId, (st = newVehicleState({ vehicleId: `veh-${p.deviceId}`, company: 'acme', name: p.deviceId, speedLimit: 90, settings: DEFAULT_SETTINGS }, p.deviceId, 0)));
    applyPoint(st, p, events);
  }
}
const values_ = [...states.values()].map((s) => Buffer.from(encodeMsgpack(s.view)));
const raw = Buffer.concat(values_);

async function measure(name: string, type: CompressionTypes): Promise<void> {
  // One request per 500 records per partition of 24: what a checkpoint round sends at most.
  const chunk = 12_000;
  let bytes = 0;
  const cpu = process.cpuUsage();
  const wall = performance.now();
  for (let r = 0; r < ROUNDS; r++) {
    for (let start = 0; start < values_.length; start += chunk) {
      const buffer = Buffer.concat(values_.slice(start, start + chunk));
      bytes += type === CompressionTypes.None ? buffer.length : (await codecs[type]().compress({ buffer })).length;
    }
  }
  const used = process.cpuUsage(cpu);
  const us = (used.user + used.system) / (ROUNDS * VIEWS);
  console.log(`${name.padEnd(7)} ${us.toFixed(2).padStart(7)} µs CPU per record   ${((performance.now() - wall) / ROUNDS).toFixed(1).padStart(7)} ms wall per ${VIEWS} records   ${(bytes / ROUNDS / VIEWS).toFixed(1).padStart(6)} B per record`);
}

console.log(`${VIEWS} vehicle.updates values, ${(raw.length / VIEWS).toFixed(0)} B MessagePack each, ${ROUNDS} rounds; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
for (const [name, type] of [['none', CompressionTypes.None], ['gzip', CompressionTypes.GZIP], ['snappy', CompressionTypes.Snappy], ['lz4', CompressionTypes.LZ4], ['zstd', CompressionTypes.ZSTD]] as const) {
  await measure(name, type); // warm-up
  await measure(name, type);
}
