import { Packr } from 'msgpackr';
import type { VehicleSnapshot } from '../../actors/domain/vehicle-state.js';

/**
 * Snapshot bytes, shared by every snapshot store so one tier's bytes decode in the other:
 * standard MessagePack only (no records, no msgpackr extensions), undefined properties left
 * out so a snapshot round-trips to an equal object.
 */
const packr = new Packr({
  useRecords: false,
  mapsAsObjects: true,
  encodeUndefinedAsNil: true,
  int64AsType: 'number',
  skipValues: [undefined],
} as ConstructorParameters<typeof Packr>[0] & { skipValues: unknown[] });

export function packSnapshot(s: VehicleSnapshot): Buffer {
  return packr.pack(s);
}

export function unpackSnapshot(bytes: Uint8Array): VehicleSnapshot {
  return packr.unpack(bytes) as VehicleSnapshot;
}
