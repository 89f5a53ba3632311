import { partitionForKey } from '../adapters/embedded/murmur2.js';
import { UNBOUND_VEHICLE_PREFIX } from '../actors/domain/reference-data.js';

/**
 * The partition a vehicle's actor lives in: Kafka's default partitioner (murmur2) over its id,
 * so a vehicle has one home (one writer) however many devices feed it and wherever their
 * records land. An unbound device's vehicle (`~dev/<deviceId>`) lives where murmur2 puts the
 * device's own records, so a producer keying by device id with Kafka's default partitioner
 * never needs the forwarding hop for it.
 */
export function vehiclePartition(vehicleId: string, partitions: number): number {
  const key = vehicleId.startsWith(UNBOUND_VEHICLE_PREFIX) ? vehicleId.slice(UNBOUND_VEHICLE_PREFIX.length) : vehicleId;
  return partitionForKey(key, partitions);
}
