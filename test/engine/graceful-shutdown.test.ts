import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EngineProcess } from '../support/engine-process.js';
import { StreamClient, TEST_SECRET, writeFleetFile } from '../support/engine.js';
import { JwtAuth } from '../../engine/auth.js';

describe('graceful shutdown on SIGTERM', () => {
  it('stops intake, closes WebSockets with 4503 and exits 0', async () => {
    const engine = new EngineProcess({ FLEET_FILE: writeFleetFile() });
    await engine.start();
    const token = await new JwtAuth(TEST_SECRET).sign({ role: 'admin' });
    const client = await StreamClient.connect(engine.url, token);
    await client.next((f) => f.t === 'ready');
    const code = await engine.stop();
    assert.equal(code, 0);
    assert.equal(await client.closed(), 4503);
    assert.ok(engine.logs.some((l) => l.includes('"fleetline node stopped"')));
  });

  it('refuses to start without JWT_SECRET outside demo mode, saying why', async () => {
    const engine = new EngineProcess({ JWT_SECRET: '' });
    await assert.rejects(engine.start(20_000), /JWT_SECRET is required/);
  });
});
