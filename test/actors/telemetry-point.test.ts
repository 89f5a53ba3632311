import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { validatePoint } from '../../actors/domain/telemetry-point.js';

const now = Date.UTC(2026, 10, 23);
const good = { deviceId: 'dev-1', ts: now - 1000, lat: 52.5, lon: 13.4 };

describe('telemetry record validation', () => {
  it('accepts a minimal record and ISO timestamps', () => {
    assert.ok(validatePoint(good, now).ok);
    const iso = validatePoint({ ...good, ts: new Date(now - 5000).toISOString() }, now);
    assert.ok(iso.ok && iso.point.ts === now - 5000);
  });

  const cases: [string, unknown, string][] = [
    ['not an object', 'hello', 'NOT_A_RECORD'],
    ['array', [good], 'NOT_A_RECORD'],
    ['missing deviceId', { ...good, deviceId: undefined }, 'BAD_DEVICE_ID'],
    ['deviceId with spaces', { ...good, deviceId: 'a b' }, 'BAD_DEVICE_ID'],
    ['deviceId too long', { ...good, deviceId: 'x'.repeat(65) }, 'BAD_DEVICE_ID'],
    ['ts as garbage', { ...good, ts: 'yesterday' }, 'BAD_TIMESTAMP'],
    ['ts far in the future', { ...good, ts: now + 3_600_000 }, 'BAD_TIMESTAMP'],
    ['ts before 2000', { ...good, ts: 1000 }, 'BAD_TIMESTAMP'],
    ['lat 91', { ...good, lat: 91 }, 'BAD_LATITUDE'],
    ['lat as string', { ...good, lat: '52.5' }, 'BAD_LATITUDE'],
    ['lon NaN-ish', { ...good, lon: null }, 'BAD_LONGITUDE'],
    ['lon -181', { ...good, lon: -181 }, 'BAD_LONGITUDE'],
    ['negative speed', { ...good, speed: -1 }, 'BAD_SPEED'],
    ['course 360', { ...good, course: 360 }, 'BAD_COURSE'],
    ['alt as string', { ...good, alt: 'high' }, 'BAD_ALTITUDE'],
    ['ignition as 1', { ...good, ignition: 1 }, 'BAD_IGNITION'],
    ['negative fuel', { ...good, fuel: -3 }, 'BAD_FUEL'],
    ['nested attrs', { ...good, attrs: { a: { b: 1 } } }, 'BAD_ATTRS'],
  ];
  for (const [name, raw, reason] of cases) {
    it(`rejects ${name} with ${reason}`, () => {
      const v = validatePoint(raw, now);
      assert.equal(v.ok, false);
      if (!v.ok) assert.equal(v.reason, reason);
    });
  }
});
