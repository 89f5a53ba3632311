import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseReferenceRecord } from '../../engine/reference-feed.js';
import { parseFleet, ReferenceFileError } from '../../adapters/embedded/file-reference-source.js';
import type { LogRecord } from '../../actors/ports/partitioned-log.js';

const rec = (key: string | null, value: unknown): LogRecord => ({
  topic: 'fleet.reference', partition: 0, offset: 0, key, timestamp: 0,
  value: value === null ? null : typeof value === 'string' ? new TextEncoder().encode(value) : new TextEncoder().encode(JSON.stringify(value)),
});

describe('bad reference data never stops the engine', () => {
  it('fleet.reference: understood records become changes, tombstones delete', () => {
    assert.deepEqual(parseReferenceRecord(rec('company:A', { name: 'Acme', active: false })), { kind: 'company', id: 'A', value: { id: 'A', name: 'Acme', active: false } });
    assert.deepEqual(parseReferenceRecord(rec('device:d1', { vehicleId: 'v1' })), { kind: 'device', id: 'd1', value: { deviceId: 'd1', vehicleId: 'v1' } });
    assert.deepEqual(parseReferenceRecord(rec('vehicle:v1', null)), { kind: 'vehicle', id: 'v1', value: null });
  });

  it('fleet.reference: unknown keys, malformed values and missing fields are skipped (null), not thrown', () => {
    assert.equal(parseReferenceRecord(rec('driver:x', { name: 'n' })), null);
    assert.equal(parseReferenceRecord(rec(null, { name: 'n' })), null);
    assert.equal(parseReferenceRecord(rec('company:A', '{not json')), null);
    assert.equal(parseReferenceRecord(rec('company:A', '[1,2]')), null);
    assert.equal(parseReferenceRecord(rec('vehicle:v1', { name: 'no company' })), null);
    assert.equal(parseReferenceRecord(rec('device:d1', { vehicleId: 42 })), null);
  });

  it('FLEET_FILE: a malformed file fails start-up with the file and the field named', () => {
    assert.throws(() => parseFleet('{', 'fleet.json'), (e: unknown) => e instanceof ReferenceFileError && /fleet.json: not valid JSON/.test(e.message));
    assert.throws(() => parseFleet('{"vehicles":[{"id":"v1"}]}', 'fleet.json'), /vehicles\[0\]: "companyId"/);
    assert.throws(() => parseFleet('{"companies":{}}', 'fleet.json'), /"companies" must be an array/);
    assert.deepEqual(parseFleet('{"companies":[{"id":"A"}]}', 'f').companies, [{ id: 'A', name: 'A', active: true }]);
  });
});
