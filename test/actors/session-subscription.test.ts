import assert from 'node:assert/strict';
import { test } from 'node:test';
import { subscriptionFrame } from '../../actors/stream-session.js';
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
