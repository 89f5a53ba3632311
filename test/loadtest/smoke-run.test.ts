import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { renderHtml } from '../../loadtest/harness/html-report.js';
import { runLoad } from '../../loadtest/harness/load-run.js';
import { readProfile, resolveOptions } from '../../loadtest/harness/profile.js';

describe('load-test harness end to end (#11)', () => {
  it('#11 the smoke profile drives a node it starts: devices in, clients out, every client checked against the engine', { timeout: 60_000 }, async () => {
    const options = resolveOptions(readProfile('smoke'), { devices: 150, rate: 150, durationS: 5, warmupS: 1, settleS: 2, clients: 10 });
    assert.equal(options.startNode, true, 'the smoke profile starts its own node');
    const r = await runLoad(options, { progress: false, log: () => undefined });
    // Speed is never asserted here: the numbers are printed for whoever reads the log.
    console.log(`smoke: sent ${r.intake.sentPerS}/s of ${r.intake.askedPerS}/s asked, latency p50 ${r.latency.p50} ms p99 ${r.latency.p99} ms max ${r.latency.max} ms, ` +
      `${r.loss.lost} lost of ${r.loss.expected}, engine RSS ${(r.engine.peakRssBytes / 1048576).toFixed(0)} MiB`);
    assert.equal(r.clients.connected, 10);
    assert.ok(r.intake.sent > 0 && r.intake.accepted > 0, 'the devices sent and the intake accepted points');
    assert.equal(r.intake.failed, 0, 'no request failed');
    assert.equal(r.intake.sent, r.intake.accepted + r.intake.rejected + r.intake.failed, 'every record sent is accounted for');
    assert.equal(r.intake.rejected, r.intake.bad, 'exactly the bad points were rejected');
    assert.ok(r.latency.count > 0, 'clients received deliveries and measured their latency');
    assert.equal(r.loss.unchecked, 0, 'every client was compared with the engine');
    assert.ok(r.loss.expected > 0);
    assert.equal(r.clients.seqGaps + r.clients.seqRepeats, 0, 'seq continuous on every client');
    assert.ok(r.engine.samples.length > 0 && r.engine.peakRssBytes > 0, '/metrics was scraped');
    assert.ok(renderHtml(r).includes('fleetline-run'));
  });
});
