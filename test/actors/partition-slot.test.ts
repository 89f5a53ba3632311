import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { acquireBackoffMs, PartitionSlot, type SlotPhase } from '../../actors/partition-slot.js';
import type { PartitionShard } from '../../actors/partition-shard.js';

const fakeShard = { close: () => {} } as unknown as PartitionShard;

describe('PartitionSlot: one phase per partition, named transitions', () => {
  it('goes acquiring → retrying-acquire → acquiring → active → handing-off → released, and reports each step', () => {
    const seen: string[] = [];
    const slot = new PartitionSlot(3, (s, from) => seen.push(`${from}→${s.phase}`));
    slot.acquireFailed('postgres down');
    assert.equal(slot.attempts, 1);
    assert.equal(slot.lastError, 'postgres down');
    slot.retry();
    slot.acquired(fakeShard);
    assert.equal(slot.shard, fakeShard);
    assert.equal(slot.attempts, 0);
    slot.handOff();
    slot.released();
    assert.equal(slot.shard, null);
    assert.deepEqual(seen, ['acquiring→retrying-acquire', 'retrying-acquire→acquiring', 'acquiring→active', 'active→handing-off', 'handing-off→released']);
  });

  it('a fenced slot drops its shard and can only be released; no other transition is allowed', () => {
    let closed = false;
    const slot = new PartitionSlot(1);
    slot.acquired({ close: () => { closed = true; } } as unknown as PartitionShard);
    slot.fenced();
    assert.ok(closed);
    assert.equal(slot.shard, null);
    assert.throws(() => slot.handOff(), /fenced → handing-off/);
    assert.throws(() => slot.acquired(fakeShard), /fenced → active/);
    slot.released();
    assert.equal(slot.phase satisfies SlotPhase, 'released');
    assert.throws(() => slot.retry(), /released → acquiring/);
  });

  it('runs the work of one partition one piece after another, also after a failure', async () => {
    const slot = new PartitionSlot(0);
    const log: string[] = [];
    const step = (name: string, ms: number, fail = false) => slot.serial(async () => {
      log.push(`${name} start`);
      await new Promise((r) => setTimeout(r, ms));
      log.push(`${name} end`);
      if (fail) throw new Error(name);
    });
    const results = await Promise.allSettled([step('a', 30, true), step('b', 1), step('c', 10)]);
    assert.deepEqual(results.map((r) => r.status), ['rejected', 'fulfilled', 'fulfilled']);
    assert.deepEqual(log, ['a start', 'a end', 'b start', 'b end', 'c start', 'c end']);
  });

  it('backs acquire retries off from 200 ms, doubling, to at most 10 s', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8, 20].map(acquireBackoffMs), [200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000]);
  });
});
