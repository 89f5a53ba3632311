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
    ['ts far in the future', { ...good, ts: now + 31 * 86_400_000 }, 'BAD_TIMESTAMP'],
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

describe('#7.13 ISO timestamps: real dates with a zone only', () => {
  // now is 2026-11-23T00:00:00Z
  const at = (ts: string) => validatePoint({ ...good, ts }, now);
  const ok = (ts: string, ms: number) => {
    const v = at(ts);
    assert.ok(v.ok, `${ts} is accepted`);
    assert.equal(v.point.ts, ms, ts);
  };

  it('#7.13 accepts Z and numeric offsets, fractions, leap days', () => {
    ok('2026-11-22T23:00:00Z', now - 3_600_000);
    ok('2026-11-22T23:00:00.250Z', now - 3_600_000 + 250);
    ok('2026-11-23T00:30:00+01:00', now - 1_800_000);
    ok('2026-11-22T20:15:00-03:45', now);
    ok('2024-02-29T12:00:00Z', Date.UTC(2024, 1, 29, 12));
  });

  for (const [what, ts] of [
    ['an impossible day', '2026-02-30T10:00:00Z'],
    ['29 February of a common year', '2026-02-29T10:00:00Z'],
    ['31 April', '2026-04-31T10:00:00Z'],
    ['month 13', '2026-13-01T10:00:00Z'],
    ['hour 24', '2026-11-22T24:00:00Z'],
    ['a time without a zone', '2026-11-22T10:00:00'],
    ['a time without seconds', '2026-11-22T10:00Z'],
    ['a date without a time', '2026-11-22'],
    ['a hex number as text', '0x19ab0c4e000'],
    ['an epoch as text', '1763856000000'],
    ['trailing garbage', '2026-11-22T10:00:00Zjunk'],
  ] as const) {
    it(`#7.13 rejects ${what} (${ts}) as BAD_TIMESTAMP`, () => {
      assert.deepEqual(at(ts), { ok: false, reason: 'BAD_TIMESTAMP' });
    });
  }
});
