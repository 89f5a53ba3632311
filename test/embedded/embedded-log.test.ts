import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { EmbeddedLog } from '../../adapters/embedded/embedded-log.js';
import { murmur2, partitionForKey } from '../../adapters/embedded/murmur2.js';
import type { LogRecord } from '../../actors/ports/partitioned-log.js';

const require = createRequire(import.meta.url);
const kafkaMurmur2 = require('kafkajs/src/producer/partitioners/default/murmur2.js') as (key: Buffer) => number;

const enc = (s: string) => new TextEncoder().encode(s);

describe('embedded partitioned log', () => {
  it('partitions keys exactly like Kafka (murmur2)', () => {
    for (const key of ['dev-1', 'dev-42', 'x', '', 'vehicle:ÄÖÜ', 'a-much-longer-device-identifier-0001']) {
      assert.equal(murmur2(Buffer.from(key)), kafkaMurmur2(Buffer.from(key)), key);
    }
    assert.equal(partitionForKey('dev-1', 24), (kafkaMurmur2(Buffer.from('dev-1')) & 0x7fffffff) % 24);
  });

  it('keeps per-partition order with increasing offsets, and a key on one partition', async () => {
    const log = new EmbeddedLog();
    await log.ensureTopics([{ name: 't', partitions: 4 }]);
    const got: LogRecord[] = [];
    const consumer = await log.consume({ groupId: 'g', topic: 't', fromBeginning: true, onBatch: async (b) => { got.push(...b.records); } });
    for (let i = 0; i < 100; i++) await log.publish('t', [{ key: `k${i % 7}`, value: enc(String(i)) }]);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(got.length, 100);
    const byKey = new Map<string, LogRecord[]>();
    for (const r of got) byKey.set(r.key!, [...(byKey.get(r.key!) ?? []), r]);
    for (const rs of byKey.values()) {
      assert.equal(new Set(rs.map((r) => r.partition)).size, 1);
      const values = rs.map((r) => Number(new TextDecoder().decode(r.value!)));
      assert.deepEqual(values, [...values].sort((a, b) => a - b));
      const offsets = rs.map((r) => r.offset);
      assert.deepEqual(offsets, [...offsets].sort((a, b) => a - b));
    }
    await consumer.stop();
  });

  it('a new consumer of the group resumes from the committed offset', async () => {
    const log = new EmbeddedLog();
    await log.ensureTopics([{ name: 't', partitions: 1 }]);
    await log.publish('t', Array.from({ length: 10 }, (_, i) => ({ key: 'k', value: enc(String(i)) })));
    const first: number[] = [];
    const c1 = await log.consume({ groupId: 'g', topic: 't', fromBeginning: true, onBatch: async (b) => { first.push(...b.records.map((r) => r.offset)); } });
    await new Promise((r) => setTimeout(r, 20));
    await c1.commit(0, 6);
    await c1.stop();
    await log.publish('t', [{ key: 'k', value: enc('10') }]);
    const second: number[] = [];
    const c2 = await log.consume({ groupId: 'g', topic: 't', fromBeginning: true, onBatch: async (b) => { second.push(...b.records.map((r) => r.offset)); } });
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(first, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual(second, [6, 7, 8, 9, 10]);
    await c2.stop();
  });

  it('redelivers a batch whose handler failed', async () => {
    const log = new EmbeddedLog();
    await log.ensureTopics([{ name: 't', partitions: 1 }]);
    let calls = 0;
    const seen: number[] = [];
    const c = await log.consume({
      groupId: 'g', topic: 't', fromBeginning: true,
      onBatch: async (b) => {
        if (calls++ === 0) throw new Error('boom');
        seen.push(...b.records.map((r) => r.offset));
      },
    });
    await log.publish('t', [{ key: 'k', value: enc('a') }, { key: 'k', value: enc('b') }]);
    await new Promise((r) => setTimeout(r, 400));
    assert.deepEqual(seen, [0, 1]);
    await c.stop();
  });

  it('#7.4 rejoin() revokes every partition, assigns them again and redelivers from the committed offsets', async () => {
    const log = new EmbeddedLog();
    await log.ensureTopics([{ name: 't', partitions: 2 }]);
    await log.publish('t', Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: enc(String(i)) })));
    const calls: string[] = [];
    const delivered: string[] = [];
    const consumer = await log.consume({
      groupId: 'g', topic: 't', fromBeginning: true,
      onBatch: async (b) => { delivered.push(...b.records.map((r) => `${r.partition}@${r.offset}`)); },
      listener: {
        onAssigned: async (_t, ps) => { calls.push(`assigned ${ps.join(',')}`); },
        onRevoked: async (_t, ps) => { calls.push(`revoked ${ps.join(',')}`); },
      },
    });
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(delivered.length, 10);
    await consumer.commit(0, 1);
    await consumer.rejoin();
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(calls, ['assigned 0,1', 'revoked 0,1', 'assigned 0,1']);
    const again = delivered.slice(10);
    const inPartition0 = delivered.slice(0, 10).filter((d) => d.startsWith('0@')).length;
    assert.equal(again.filter((d) => d.startsWith('0@')).length, inPartition0 - 1, 'partition 0 again from its committed offset 1');
    assert.equal(again.filter((d) => d.startsWith('1@')).length, 10 - inPartition0, 'partition 1 (nothing committed) from the beginning');
    await consumer.stop();
  });
});

describe('#7.1 embedded log retention (independent of commits)', () => {
  // Values cut from a shared buffer, as an encoder's output or a pooled Buffer is.
  const slab = Buffer.alloc(64 * 1024);
  const record = (i: number) => ({ key: `veh-${i % 500}`, value: slab.subarray((i % 600) * 100, (i % 600) * 100 + 100) });

  it('#7.1 a topic nobody consumes stays within retention.bytes per partition', async () => {
    const log = new EmbeddedLog();
    const limit = 64 * 1024;
    await log.ensureTopics([{ name: 'vehicle.updates', partitions: 4, retention: { bytes: limit } }]);
    for (let batch = 0; batch < 200; batch++) {
      await log.publish('vehicle.updates', Array.from({ length: 500 }, (_, i) => record(batch * 500 + i)));
    }
    // 100,000 records (about 10 MB) published; each partition keeps at most 64 KiB of them.
    const kept = log.retained('vehicle.updates');
    assert.ok(kept.bytes <= 4 * limit, `retained ${kept.bytes} bytes`);
    assert.ok(kept.bytes > 3 * limit, `retention keeps up to the limit, not less (${kept.bytes} bytes)`);
    assert.ok(kept.records > 0 && kept.records < 4 * limit / 100, `retained ${kept.records} records`);
    // A late reader starts at the oldest retained record, offsets keep counting.
    const seen: LogRecord[] = [];
    const c = await log.consume({ groupId: 'late', topic: 'vehicle.updates', fromBeginning: true, onBatch: async (b) => { seen.push(...b.records); } });
    for (let i = 0; i < 100 && seen.length < kept.records; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(seen.length, kept.records);
    assert.ok(seen.every((r) => r.offset > 1000), 'only the newest records are left');
    // Retained values hold copies, not the buffer they were cut from: one buffer per publish and
    // partition (#11), so what they hold stays within the limit plus one publish per partition.
    assert.ok(seen.every((r) => r.value!.buffer !== slab.buffer));
    const held = new Set(seen.map((r) => r.value!.buffer));
    const heldBytes = [...held].reduce((n, b) => n + b.byteLength, 0);
    assert.ok(heldBytes <= 4 * (limit + 500 * 100), `retained values hold ${heldBytes} bytes`);
    await c.stop();
    await log.close();
  });

  it('#7.1 records older than retention.ms are dropped, also when nothing is published any more', async () => {
    const log = new EmbeddedLog({ maxBatch: 2000, retainRecords: 10_000, retentionCheckMs: 50 });
    await log.ensureTopics([{ name: 'vehicle.events', partitions: 2, retention: { ms: 300 } }]);
    await log.publish('vehicle.events', Array.from({ length: 1000 }, (_, i) => record(i)));
    assert.equal(log.retained('vehicle.events').records, 1000);
    for (let i = 0; i < 200 && log.retained('vehicle.events').records > 0; i++) await new Promise((r) => setTimeout(r, 25));
    assert.deepEqual(log.retained('vehicle.events'), { records: 0, bytes: 0 });
    await log.publish('vehicle.events', [record(1)]);
    assert.equal(log.retained('vehicle.events').records, 1, 'a fresh record is kept');
    await log.close();
  });

  it('#7.1 a topic without retention (telemetry.raw) keeps every record its group has not committed', async () => {
    const log = new EmbeddedLog({ maxBatch: 2000, retainRecords: 0 });
    await log.ensureTopics([{ name: 'telemetry.raw', partitions: 1 }]);
    const seen: number[] = [];
    const c = await log.consume({ groupId: 'engine', topic: 'telemetry.raw', fromBeginning: true, onBatch: async (b) => { seen.push(...b.records.map((r) => r.offset)); } });
    c.pause();
    for (let batch = 0; batch < 20; batch++) await log.publish('telemetry.raw', Array.from({ length: 1000 }, (_, i) => record(batch * 1000 + i)));
    assert.equal(log.retained('telemetry.raw').records, 20_000);
    c.resume();
    for (let i = 0; i < 200 && seen.length < 20_000; i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(seen, Array.from({ length: 20_000 }, (_, i) => i), 'every record delivered, in order');
    await c.commit(0, 15_000);
    assert.equal(log.retained('telemetry.raw').records, 5_000, 'committed records are dropped, the rest kept');
    await c.stop();
    await log.close();
  });
});
