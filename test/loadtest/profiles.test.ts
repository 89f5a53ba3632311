import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { profileNames, readProfile, resolveOptions } from '../../loadtest/harness/profile.js';

describe('load-test profiles (#11)', () => {
  it('#11 every profile in loadtest/profiles/ is valid, and the standard scenarios are there', () => {
    const names = profileNames();
    for (const want of ['smoke', '50k-points-2k-clients', '100k-durable']) assert.ok(names.includes(want), want);
    for (const name of names) {
      const o = resolveOptions(readProfile(name), {});
      assert.equal(o.name, name);
      assert.ok(o.rate > 0 && o.devices > 0, name);
    }
  });

  it('#11 flags override the profile, the defaults fill the rest, a bad value names its field', () => {
    const o = resolveOptions(readProfile('50k-points-2k-clients'), { clients: 7, transport: 'kafka' });
    assert.equal(o.clients, 7);
    assert.equal(o.transport, 'kafka');
    assert.equal(o.rate, 50_000);
    assert.equal(o.seed, 1);
    assert.throws(() => resolveOptions(undefined, { rate: -5 }), /rate/);
    assert.throws(() => readProfile('no-such-profile'), /no profile "no-such-profile"/);
  });
});
