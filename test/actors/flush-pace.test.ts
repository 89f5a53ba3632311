import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LoadAdaptivePace } from '../../actors/flush-pace.js';

describe('#9 flush pace: fewer, larger frames while the event loop is busy', () => {
  it('#9 grows from WS_FLUSH_MS to WS_MAX_FLUSH_MS while busy, and comes back down when idle', () => {
    let busy = 0.95;
    const pace = new LoadAdaptivePace(30, 250, () => busy);
    assert.equal(pace.ms, 30);
    const grown: number[] = [];
    for (let i = 0; i < 8; i++) {
      pace.sample();
      grown.push(pace.ms);
    }
    assert.deepEqual(grown, [45, 68, 102, 153, 230, 250, 250, 250]);
    busy = 0.7;
    pace.sample();
    assert.equal(pace.ms, 250, 'between the thresholds it holds');
    busy = 0.2;
    for (let i = 0; i < 8; i++) pace.sample();
    assert.equal(pace.ms, 30);
  });
});
