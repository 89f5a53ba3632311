import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EmbeddedLog } from '../../adapters/embedded/embedded-log.js';
import { Topics } from '../../actors/ports/partitioned-log.js';
import { loadConfig } from '../../engine/config.js';
import { EMBEDDED_OUTPUT_RETENTION, engineTopics } from '../../engine/topics.js';
import { startTestNode } from '../support/engine.js';

const demoEnv = { FLEETLINE_MODE: 'demo', DEMO_DEVICES: '3000' };

describe('#7.1 output topics of a node are bounded', () => {
  it('#7.1 the embedded default bounds vehicle.updates and vehicle.events, never telemetry.raw; Kafka keeps the broker default', () => {
    const specs = new Map(engineTopics(loadConfig(demoEnv), 'embedded').map((s) => [s.name, s]));
    assert.deepEqual(specs.get(Topics.vehicleUpdates)?.retention, EMBEDDED_OUTPUT_RETENTION);
    assert.deepEqual(specs.get(Topics.vehicleEvents)?.retention, EMBEDDED_OUTPUT_RETENTION);
    assert.equal(specs.get(Topics.telemetryRaw)?.retention, undefined);
    assert.equal(specs.get(Topics.fleetReference)?.retention, undefined);
    const kafka = engineTopics(loadConfig(demoEnv), 'kafka');
    assert.ok(kafka.filter((s) => s.name !== Topics.vehicleLive).every((s) => s.retention === undefined));
    // vehicle.live (cross-node delivery, Kafka only) is read at its end by every node: short-lived.
    assert.deepEqual(kafka.find((s) => s.name === Topics.vehicleLive)?.retention, { ms: 600_000 });
    assert.equal(engineTopics(loadConfig(demoEnv), 'embedded').some((s) => s.name === Topics.vehicleLive), false);
    const tuned = new Map(engineTopics(loadConfig({ ...demoEnv, OUTPUT_RETENTION_MS: '60000', OUTPUT_RETENTION_BYTES: '1048576' }), 'kafka').map((s) => [s.name, s]));
    assert.deepEqual(tuned.get(Topics.vehicleUpdates)?.retention, { ms: 60_000, bytes: 1_048_576 });
  });

  it('#7.1 a node on the embedded log keeps vehicle.updates within OUTPUT_RETENTION_BYTES', async () => {
    const node = await startTestNode({ TELEMETRY_PARTITIONS: '4', OUTPUT_RETENTION_BYTES: '8192' });
    try {
      const bus = node.infrastructure.bus;
      assert.ok(bus instanceof EmbeddedLog);
      for (let batch = 0; batch < 50; batch++) {
        await bus.publish(Topics.vehicleUpdates, Array.from({ length: 200 }, (_, i) => ({ key: `veh-${i}`, value: new Uint8Array(120) })));
      }
      const kept = bus.retained(Topics.vehicleUpdates);
      assert.ok(kept.bytes <= 4 * 8192, `retained ${kept.bytes} bytes of about 1.2 MB published`);
      assert.ok(kept.records > 0);
    } finally {
      await node.close();
    }
  });
});
