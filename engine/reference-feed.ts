import { isReservedVehicleId, REFERENCE_KINDS, type Company, type DeviceBinding, type ReferenceChange, type Vehicle } from '../actors/domain/reference-data.js';
import { parseGeofence } from '../actors/domain/geofence.js';
import { FleetlineError } from '../actors/domain/errors.js';
import type { Logger } from '../actors/ports/logger.js';
import { Topics, type LogRecord, type OutgoingRecord, type PartitionedLog } from '../actors/ports/partitioned-log.js';
import type { ReferenceWriter } from '../actors/ports/reference-writer.js';
import { decodeRecordValue } from '../adapters/codec/msgpack-codec.js';
import { parseSettingsOverride } from '../actors/domain/domain-settings.js';

/**
 * Follows the compacted topic fleet.reference: key `company:<id>`, `vehicle:<id>`,
 * `device:<deviceId>`, `geofence:<id>`, `driver:<id>` or `group:<id>`, value the entity as JSON
 * or MessagePack (docs/http-api.md, Reference data), null (tombstone) deletes it.
 * Every node reads the whole topic (its own consumer group, from the beginning) and never commits.
 */
export async function followReferenceTopic(
  bus: PartitionedLog, nodeId: string, log: Logger, onChange: (change: ReferenceChange) => void,
): Promise<() => Promise<void>> {
  const consumer = await bus.consume({
    groupId: `fleetline-reference-${nodeId}-${process.pid}-${Date.now()}`,
    topic: Topics.fleetReference,
    fromBeginning: true,
    onBatch: async (batch) => {
      for (const r of batch.records) {
        const change = parseReferenceRecord(r);
        if (change === null) log.warn({ partition: r.partition, offset: r.offset, key: r.key }, 'fleet.reference record skipped: unknown key, bad value or a vehicle id in the reserved ~ namespace');
        else onChange(change);
      }
    },
  });
  return () => consumer.stop();
}

/** The `settings` of a company or vehicle value: what validates (an invalid key is left out). */
function settingsOf(o: Record<string, unknown>): { settings?: ReturnType<typeof parseSettingsOverride>['value'] } {
  if (o.settings === undefined || o.settings === null) return {};
  const { value } = parseSettingsOverride(o.settings);
  return Object.keys(value).length > 0 ? { settings: value } : {};
}

function str(o: Record<string, unknown>, k: string): string | undefined {
  return typeof o[k] === 'string' && (o[k] as string).length > 0 ? (o[k] as string) : undefined;
}

const KEY = new RegExp(`^(${REFERENCE_KINDS.join('|')}):(.+)$`);

/** Parses one fleet.reference record; null when it is not understood. */
export function parseReferenceRecord(r: LogRecord): ReferenceChange | null {
  const m = KEY.exec(r.key ?? '');
  if (!m) return null;
  const [, kind, id] = m;
  if (r.value === null) return { kind, id, value: null } as ReferenceChange;
  let o: Record<string, unknown>;
  try {
    const v = decodeRecordValue(r.value);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
    o = v as Record<string, unknown>;
  } catch {
    return null;
  }
  if (kind === 'company') {
    const value: Company = { id, name: str(o, 'name') ?? id, active: o.active !== false, ...settingsOf(o) };
    return { kind, id, value };
  }
  if (kind === 'vehicle') {
    if (isReservedVehicleId(id)) return null;
    const companyId = str(o, 'companyId');
    if (companyId === undefined) return null;
    const value: Vehicle = {
      id, companyId, ...(str(o, 'name') ? { name: str(o, 'name') } : {}), ...(str(o, 'plate') ? { plate: str(o, 'plate') } : {}),
      ...(str(o, 'type') ? { type: str(o, 'type') } : {}),
      ...(typeof o.speedLimit === 'number' ? { speedLimit: o.speedLimit } : {}), ...settingsOf(o),
    };
    return { kind, id, value };
  }
  if (kind === 'geofence') {
    const value = parseGeofence(id, o);
    return value === null ? null : { kind, id, value };
  }
  if (kind === 'driver') {
    const companyId = str(o, 'companyId');
    if (companyId === undefined) return null;
    const uniqueId = str(o, 'uniqueId');
    return { kind, id, value: { id, companyId, name: str(o, 'name') ?? id, ...(uniqueId !== undefined ? { uniqueId } : {}) } };
  }
  if (kind === 'group') {
    const companyId = str(o, 'companyId');
    const ids = o.vehicleIds ?? [];
    if (companyId === undefined || !Array.isArray(ids) || !ids.every((v) => typeof v === 'string')) return null;
    return { kind, id, value: { id, companyId, name: str(o, 'name') ?? id, vehicleIds: ids as string[] } };
  }
  const vehicleId = str(o, 'vehicleId');
  if (vehicleId === undefined || isReservedVehicleId(vehicleId)) return null;
  const value: DeviceBinding = { deviceId: id, vehicleId };
  return { kind: 'device', id, value };
}

/** The fleet.reference record of a change: key `<kind>:<id>`, the entity as JSON, or a tombstone. */
export function referenceRecord(change: ReferenceChange): OutgoingRecord {
  return { key: `${change.kind}:${change.id}`, value: change.value === null ? null : new TextEncoder().encode(JSON.stringify(change.value)) };
}

/**
 * The admin API's writer where there is no PostgreSQL: the compacted topic is the source of
 * truth, read from its beginning by every node at every start.
 */
export class TopicReferenceWriter implements ReferenceWriter {
  readonly kind = 'topic';
  constructor(private readonly bus: PartitionedLog) {}

  async write(change: ReferenceChange): Promise<void> {
    try {
      await this.bus.publish(Topics.fleetReference, [referenceRecord(change)]);
    } catch (e) {
      throw new FleetlineError('REFERENCE_UNAVAILABLE', `fleet.reference did not acknowledge the change: ${(e as Error).message}`);
    }
  }
}
