import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { generatedDocs } from '../../engine/reference-docs.js';
import { ConfigError, loadConfig } from '../../engine/config.js';

describe('reference docs and configuration', () => {
  for (const [path, render] of Object.entries(generatedDocs)) {
    it(`${path} matches the code (run npm run docs)`, () => {
      assert.equal(readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8'), render());
    });
  }

  it('start-up without JWT_SECRET in production mode fails with a clear message', () => {
    assert.throws(() => loadConfig({}), (e: unknown) => e instanceof ConfigError && /JWT_SECRET is required/.test(e.message));
  });

  it('names every bad variable at once', () => {
    assert.throws(() => loadConfig({ PORT: 'eighty', WS_FLUSH_MS: '-1', TRANSPORT: 'carrier-pigeon' }), (e: unknown) =>
      e instanceof ConfigError && /PORT/.test(e.message) && /WS_FLUSH_MS/.test(e.message) && /TRANSPORT/.test(e.message));
  });

  it('FLEETLINE_MODE=demo (what npm start sets) runs the demo on the embedded default', () => {
    const c = loadConfig({ FLEETLINE_MODE: 'demo' });
    assert.equal(c.port, 8080);
    assert.ok(c.demoDevices > 0);
    assert.equal(c.kafkaBrokers, null);
  });
});
