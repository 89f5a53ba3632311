import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { assignPartitions, type MemberClaim } from '../../cluster/partition-assigner.js';
import { PartitionRing } from '../../cluster/partition-ring.js';

/** mulberry32: a seeded generator, so a failing case can be replayed from its seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Membership {
  readonly partitions: number;
  readonly nodes: { nodeId: string; weight: number }[];
}

function randomMembership(rnd: () => number, weighted: boolean): Membership {
  const partitions = 1 + Math.floor(rnd() * 240);
  const count = 1 + Math.floor(rnd() * 10);
  const nodes = Array.from({ length: count }, (_, i) => ({
    nodeId: `node-${Math.floor(rnd() * 1e6).toString(36)}-${i}`,
    weight: weighted ? [1, 1, 2, 3, 0.5][Math.floor(rnd() * 5)] : 1,
  }));
  return { partitions, nodes };
}

function claims(m: Membership, owned: ReadonlyMap<string, readonly number[]> = new Map()): MemberClaim[] {
  return m.nodes.map((n) => ({ ...n, owned: owned.get(n.nodeId) ?? [] }));
}

function shuffle<T>(items: readonly T[], rnd: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

function assertValid(partitions: number, m: Membership, byNode: ReadonlyMap<string, readonly number[]>): void {
  const seen = new Set<number>();
  for (const list of byNode.values()) for (const p of list) {
    assert.ok(!seen.has(p), `partition ${p} assigned twice`);
    seen.add(p);
  }
  assert.equal(seen.size, partitions, 'every partition has an owner');
  const W = m.nodes.reduce((s, n) => s + n.weight, 0);
  for (const n of m.nodes) {
    const got = byNode.get(n.nodeId)?.length ?? 0;
    const share = (partitions * n.weight) / W;
    assert.ok(got <= Math.ceil(share - 1e-9), `${n.nodeId} holds ${got} > ⌈${share.toFixed(2)}⌉`);
    assert.ok(got >= Math.floor(share + 1e-9), `${n.nodeId} holds ${got} < ⌊${share.toFixed(2)}⌋`);
  }
}

const CASES = 300;

function ownerOf(byNode: ReadonlyMap<string, readonly number[]>): Map<number, string> {
  const out = new Map<number, string>();
  for (const [id, list] of byNode) for (const p of list) out.set(p, id);
  return out;
}

describe('consistent-hash partition assignment (property tests over random memberships)', () => {
  it('assigns every partition once, within ⌊P·w/W⌋..⌈P·w/W⌉ per node, whatever the order of the members', () => {
    for (let seed = 1; seed <= CASES; seed++) {
      const rnd = random(seed);
      const m = randomMembership(rnd, seed % 2 === 0);
      const a = assignPartitions(m.partitions, claims(m));
      assertValid(m.partitions, m, a.byNode);
      const b = assignPartitions(m.partitions, shuffle(claims(m), rnd));
      assert.deepEqual(b.byNode, a.byNode, `seed ${seed}: member order changed the assignment`);
    }
  });

  it('the same membership with the same claims moves nothing', () => {
    for (let seed = 1; seed <= CASES; seed++) {
      const m = randomMembership(random(seed), seed % 2 === 0);
      const first = assignPartitions(m.partitions, claims(m));
      const again = assignPartitions(m.partitions, claims(m, first.byNode));
      assert.equal(again.moved, 0, `seed ${seed}`);
      assert.deepEqual(again.byNode, first.byNode);
    }
  });

  it('one node added or removed of N moves at most P/N + 10 % of P partitions; between two staying nodes only what balance needs', () => {
    let moved = 0;
    let forced = 0;
    let between = 0;
    for (let seed = 1; seed <= CASES; seed++) {
      const rnd = random(seed);
      const m = randomMembership(rnd, false);
      const before = assignPartitions(m.partitions, claims(m)).byNode;
      const steps: Membership[] = [{ partitions: m.partitions, nodes: [...m.nodes, { nodeId: `added-${seed}`, weight: 1 }] }];
      if (m.nodes.length > 1) {
        const gone = Math.floor(rnd() * m.nodes.length);
        steps.push({ partitions: m.partitions, nodes: m.nodes.filter((_, i) => i !== gone) });
      }
      for (const next of steps) {
        const after = assignPartitions(m.partitions, claims(next, before)).byNode;
        assertValid(m.partitions, next, after);
        const ownerBefore = ownerOf(before);
        const ownerAfter = ownerOf(after);
        let changes = 0;
        let staying = 0;
        for (const [p, o] of ownerAfter) {
          if (ownerBefore.get(p) === o) continue;
          changes++;
          if (before.has(o) && after.has(ownerBefore.get(p) as string)) staying++;
        }
        const n = Math.max(m.nodes.length, next.nodes.length);
        // ⌈P/N⌉: partitions are whole, and a removed node may have held ⌈P/N⌉ of them.
        const bound = Math.ceil(m.partitions / n) + 0.1 * m.partitions;
        assert.ok(changes <= bound, `seed ${seed}: ${changes} moves > ${bound.toFixed(1)} (P=${m.partitions}, N=${n})`);
        // Balance may shift a partition between staying nodes (rounding of shares), never more than the slack.
        assert.ok(staying <= 0.1 * m.partitions, `seed ${seed}: ${staying} moves between staying nodes`);
        // What the change forces: the new node's fair share, or the removed node's partitions.
        const added = next.nodes.find((x) => !before.has(x.nodeId));
        forced += added ? Math.floor(m.partitions / next.nodes.length) : [...before].filter(([id]) => !after.has(id)).reduce((s, [, l]) => s + l.length, 0);
        moved += changes;
        between += staying;
      }
    }
    console.log(`# membership changes: ${moved} partitions moved where ${forced} had to (${(moved / forced).toFixed(3)}x the ideal); ${between} of them between staying nodes`);
  });

  it('the bare ring gives each node a share close to its weight (measured against the ideal)', () => {
    const P = 10_000;
    let worst = 0;
    for (const n of [2, 3, 5, 10, 20]) {
      const ring = new PartitionRing(Array.from({ length: n }, (_, i) => ({ nodeId: `engine-${i + 1}`, weight: 1 })));
      const counts = new Map<string, number>();
      for (let p = 0; p < P; p++) {
        const o = ring.owner(p) as string;
        counts.set(o, (counts.get(o) ?? 0) + 1);
      }
      const dev = Math.max(...[...counts.values()].map((c) => Math.abs(c - P / n) / (P / n)));
      worst = Math.max(worst, dev);
      console.log(`# ring of ${n} nodes: largest deviation from the ideal share ${(dev * 100).toFixed(1)} %`);
    }
    assert.ok(worst < 0.5, 'a node of the bare ring is more than 50 % off its share');
  });

  it('two processes compute the same assignment from the same claims', () => {
    const m = randomMembership(random(4242), true);
    const here = assignPartitions(m.partitions, claims(m));
    const script = `import { assignPartitions } from './cluster/partition-assigner.ts';
      const m = ${JSON.stringify(m)};
      const a = assignPartitions(m.partitions, m.nodes.map((n) => ({ ...n, owned: [] })));
      process.stdout.write(JSON.stringify([...a.byNode]));`;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.deepEqual(new Map(JSON.parse(out) as [string, number[]][]), here.byNode);
  });
});
