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
