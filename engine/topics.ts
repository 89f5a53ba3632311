import { Topics, type PartitionedLog, type TopicRetention, type TopicSpec } from '../actors/ports/partitioned-log.js';
import type { Config } from './config.js';

/** What the embedded log keeps of an output topic unless OUTPUT_RETENTION_* say otherwise. */
export const EMBEDDED_OUTPUT_RETENTION = { ms: 60_000, bytes: 256 * 1024 } as const;

const LIVE_RETENTION = { ms: 600_000 } as const;

/**
 * The topics a node uses, with their retention.
 *
 * - telemetry.raw: no time or size retention of ours. A record dropped before the engine
 *   applied it is a lost position, so the embedded log drops a record only once the engine's
 *   group committed past it; on Kafka the topic gets the broker's retention (size it above
 *   the longest outage the engine must survive).
 * - vehicle.updates / vehicle.events: outputs the engine never reads back. The embedded log
 *   (nothing outside the process can read it) keeps the last minute, at most 256 KiB of keys
 *   and values per partition; on Kafka they get the broker's retention unless
 *   OUTPUT_RETENTION_MS / OUTPUT_RETENTION_BYTES are set.
 * - telemetry.by-vehicle: points whose vehicle lives in another partition than their device's
 *   record, forwarded there (as many partitions as telemetry.raw); retained like telemetry.raw.
 * - fleet.reference: compacted on Kafka; kept until committed in the embedded log.
 * - vehicle.live (Kafka only: one node needs no cross-node delivery): every change as it
 *   happens, read by every node from its end; ten minutes are more than any reader lags.
 */
export function engineTopics(config: Config, bus: PartitionedLog['kind']): TopicSpec[] {
  const outputs = outputRetention(config, bus);
  return [
    { name: Topics.telemetryRaw, partitions: config.partitions },
    { name: Topics.telemetryByVehicle, partitions: config.partitions },
    { name: Topics.fleetReference, partitions: 1, compacted: true },
    { name: Topics.vehicleUpdates, partitions: config.partitions, ...(outputs && { retention: outputs }) },
    { name: Topics.vehicleEvents, partitions: config.partitions, ...(outputs && { retention: outputs }) },
    ...(bus === 'kafka' ? [{ name: Topics.vehicleLive, partitions: config.partitions, retention: LIVE_RETENTION }] : []),
  ];
}

function outputRetention(config: Config, bus: PartitionedLog['kind']): TopicRetention | undefined {
  const fallback: TopicRetention = bus === 'embedded' ? EMBEDDED_OUTPUT_RETENTION : {};
  const ms = config.outputRetentionMs ?? fallback.ms;
  const bytes = config.outputRetentionBytes ?? fallback.bytes;
  if (ms === undefined && bytes === undefined) return undefined;
  return { ...(ms !== undefined && { ms }), ...(bytes !== undefined && { bytes }) };
}
