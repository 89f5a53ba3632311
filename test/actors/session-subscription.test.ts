import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SeenSet, StreamSession, subscriptionFrame } from '../../actors/stream-session.js';
import { PENDING_GONE } from '../../actors/ports/session-store.js';
import { parseSubscription } from '../../actors/subscription.js';

// A session stores its subscription as a `sub` frame; a resume parses it back. Every selector,
// filter and level of detail must survive that round trip, or a resumed client silently gets a
// wider or faster stream than it asked for.
const frames: Array<[string, Record<string, unknown>]> = [
  ['ids and min fields', { vehicles: ['v1', 'v2'], fields: 'min' }],
  ['companies, groups, bbox and zoom', { companies: ['acme'], groups: ['g1'], bbox: [13.3, 52.4, 13.5, 52.6], zoom: 11 }],
  ['status, alerts and vehicle type filters', { filter: { status: ['moving', 'idle'], alerts: true, type: ['truck', 'van'] } }],
  ['a per-vehicle rate limit', { bbox: [0, 0, 1, 1], zoom: 6, lod: { minIntervalMs: 5000 } }],
  ['clusters', { bbox: [0, 0, 10, 10], zoom: 4, lod: 'clusters' }],
];

for (const [name, frame] of frames) {
  test(`#9 a session's stored subscription parses back the same: ${name}`, () => {
    const sub = parseSubscription({ t: 'sub', ...frame });
    const again = parseSubscription({ t: 'sub', ...subscriptionFrame(sub) });
    assert.deepEqual(again, sub);
  });
}

test('#9 a session\'s saved gone log follows every change of it, though copied only when it changed', () => {
  const session = new StreamSession('s1', null, 'node-a', 100);
  session.subscribed(parseSubscription({ t: 'sub', bbox: [0, 0, 1, 1] }), new SeenSet(['a', 'b', 'c']), 1);
  const first = session.takeSave(1000).meta.gone;
  assert.deepEqual(first, []);
  assert.equal(session.takeSave(2000).meta.gone, first, 'unchanged: the same copy');
  session.seen.delete('a');
  assert.deepEqual(session.takeSave(3000).meta.gone, [['a', PENDING_GONE]]);
  session.onFrame({ t: 'gone', seq: 2, ids: ['a'] }, () => 3000, 3000);
  assert.deepEqual(session.takeSave(4000).meta.gone, [['a', 2]], 'the seq of the gone frame');
  session.seen.add('a');
  assert.deepEqual(session.takeSave(5000).meta.gone, [], 'back in scope: no longer gone');
});
