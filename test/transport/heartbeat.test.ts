import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Heartbeat, type HeartbeatLink } from '../../adapters/websocket/http-wire.js';

// The heartbeat both transports share (WS_PING_INTERVAL_S, WS_PONG_TIMEOUT_S), driven by hand
// with a made-up clock: which link is pinged and which is closed at each tick.

class FakeLink implements HeartbeatLink {
  unansweredSince = 0;
  nextPingAt = 0;
  closing = false;
  readonly log: string[] = [];
  ping(): void { this.log.push('ping'); }
  idle(): void {
    this.log.push('idle');
    this.closing = true;
  }
}

const INTERVAL = 30_000;
const TIMEOUT = 60_000;

/** [ms, what the client does just before that tick ('pong' | 'frame' | ''), what the link is told]. */
type Step = [number, '' | 'pong' | 'frame', string[]];

const CASES: Array<{ name: string; steps: Step[] }> = [
  {
    name: 'a client that never answers: pinged at 30 s and 60 s, closed 60 s after the first unanswered ping',
    steps: [[0, '', []], [29_999, '', []], [30_000, '', ['ping']], [60_000, '', ['ping']], [89_999, '', []], [90_000, '', ['idle']], [200_000, '', []]],
  },
  {
    name: 'a client that answers every ping (automatic pong) is pinged every 30 s and never closed',
    steps: [[0, '', []], [30_000, '', ['ping']], [31_000, 'pong', []], [60_000, '', ['ping']], [61_000, 'pong', []], [90_000, '', ['ping']], [91_000, 'pong', []], [150_000, '', ['ping']]],
  },
  {
    name: 'any frame answers a ping as a pong does',
    steps: [[0, '', []], [30_000, '', ['ping']], [50_000, 'frame', []], [60_000, '', ['ping']], [90_000, '', ['ping']], [119_999, '', []], [120_000, '', ['idle']]],
  },
  {
    name: 'a late answer (after a second ping) still counts; the timeout then runs from the next unanswered ping',
    steps: [[0, '', []], [30_000, '', ['ping']], [60_000, '', ['ping']], [89_000, 'pong', []], [90_000, '', ['ping']], [120_000, '', ['ping']], [149_999, '', []], [150_000, '', ['idle']]],
  },
];

describe('#9 heartbeat: ping every interval, close after the pong timeout', () => {
  for (const k of CASES) {
    it(`#9 ${k.name}`, () => {
      const link = new FakeLink();
      for (const [ms, client, expected] of k.steps) {
        if (client !== '') link.unansweredSince = 0; // what the adapters do on a pong or a frame
        link.log.length = 0;
        Heartbeat.tick(ms, [link], INTERVAL, TIMEOUT);
        assert.deepEqual(link.log, expected, `at ${ms} ms`);
      }
    });
  }

  it('#9 a link already closing is neither pinged nor closed again', () => {
    const link = new FakeLink();
    link.closing = true;
    for (const ms of [0, 30_000, 60_000, 120_000]) Heartbeat.tick(ms, [link], INTERVAL, TIMEOUT);
    assert.deepEqual(link.log, []);
  });

  it('#9 a pong timeout shorter than the interval closes a link that does not answer its ping in time', () => {
    const link = new FakeLink();
    const log: string[] = [];
    for (const ms of [0, 30_000, 39_999, 40_000]) {
      link.log.length = 0;
      Heartbeat.tick(ms, [link], INTERVAL, 10_000);
      log.push(`${ms}:${link.log.join(',')}`);
    }
    assert.deepEqual(log, ['0:', '30000:ping', '39999:', '40000:idle']);
  });
});
