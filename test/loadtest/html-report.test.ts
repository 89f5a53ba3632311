import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { renderHtml } from '../../loadtest/harness/html-report.js';
import { resolveOptions } from '../../loadtest/harness/profile.js';
import type { RunResult } from '../../loadtest/harness/run-result.js';

const require = createRequire(import.meta.url);

function result(): RunResult {
  const { jwtSecret: _s, ...options } = resolveOptions(undefined, { name: 'report-test', devices: 100, rate: 100 });
  const engine = 'http://127.0.0.1:8080';
  return {
    name: 'report-test', startedAt: '2026-03-01T08:00:00.000Z', loadSeconds: 3,
    machine: { cpus: 2, cpuModel: 'test cpu', node: process.version, platform: 'linux' },
    options,
    intake: { askedPerS: 100, sentPerS: 98, acceptedPerS: 97, achievedRatio: 0.98, appliedPerS: 96, sent: 294, accepted: 291, rejected: 3, failed: 0, dropped: 0, bad: 3, duplicates: 2, silentDevices: 1, errors: [] },
    latency: { count: 1234, mean: 41.5, p50: 38, p90: 61, p99: 143, p999: 217, max: 4321, negative: 0 },
    clients: {
      planned: 4, connected: 4, connectErrors: [], closedDuringRun: {}, byKind: { company: 1, bbox: 2, ids: 1 },
      updates: { min: 10, mean: 300, max: 900, total: 1234 }, bytes: { min: 1000, mean: 30_000, max: 90_000, total: 120_000 },
      frames: 200, events: 5, seqGaps: 0, seqRepeats: 0, duplicates: 0, regressions: 0, errorFrames: 0,
    },
    loss: { clients: 4, expected: 150, matched: 149, lost: 1, missing: 0, stale: 1, extra: 0, ahead: 0, examples: ['client 2 (bbox): stale veh-7'], unchecked: 0 },
    engine: {
      samples: [1, 2, 3].map((t) => ({ t, engine, cpu: 0.25 * t, rssBytes: 150 * 1048576 + t, heapUsedBytes: 50 * 1048576, eventLoopP99Ms: 12.5, consumerLag: 7 * t, appliedPerS: 96, mailboxDepth: 0, connections: 4 })),
      peakRssBytes: 150 * 1048576 + 3, meanCpu: 0.5, maxEventLoopP99Ms: 12.5, maxConsumerLag: 21, scrapeFailures: 0,
    },
    timeline: {
      throughput: [1, 2, 3].map((t) => ({ t, askedPerS: 100, sentPerS: 90 + t, acceptedPerS: 89 + t, deliveredPerS: 400 })),
      latency: [1, 2, 3].map((t) => ({ t, count: 400, mean: 40, p50: 30 + t, p90: 60, p99: 140, p999: 200, max: 4321 })),
    },
  };
}

describe('load-test report (#11)', () => {
  it('#11 the HTML report is self-contained: the chart library inlined, the run\'s data and the numbers in it', () => {
    const r = result();
    const html = renderHtml(r);
    const uplot = readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8');
    assert.ok(html.includes(uplot), 'uPlot\'s browser build is inlined');
    assert.doesNotMatch(html, /<script[^>]+src=/, 'no script is loaded from elsewhere');
    assert.doesNotMatch(html, /<link[^>]+stylesheet/, 'no stylesheet is loaded from elsewhere');
    const data = /<script id="fleetline-run" type="application\/json">(.*?)<\/script>/s.exec(html);
    assert.ok(data, 'the run is embedded as JSON');
    assert.deepEqual(JSON.parse(data[1]), r);
    for (const title of ['End-to-end latency per second', 'Throughput: asked vs achieved', 'Engine RSS', 'Consumer lag (telemetry.raw)', 'Event-loop delay p99']) {
      assert.ok(html.includes(title), `chart "${title}"`);
    }
    assert.match(html, /38 \/ 61 \/ 143 \/ 217 \/ 4321 ms/);
    assert.match(html, /1 of 150 vehicles checked/);
  });

  it('#11 a value that looks like markup cannot break out of the report', () => {
    const r = result();
    r.name = '</script><script>alert(1)</script>';
    r.loss.examples = ['</script><b>x</b>'];
    const html = renderHtml(r);
    assert.ok(!html.includes('<script>alert(1)'), 'escaped in the page and in the embedded JSON');
    const data = /<script id="fleetline-run" type="application\/json">(.*?)<\/script>/s.exec(html);
    assert.equal((JSON.parse(data![1]) as RunResult).name, r.name);
  });
});
