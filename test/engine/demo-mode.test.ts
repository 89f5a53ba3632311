import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { ConfigError, loadConfig } from '../../engine/config.js';
import { startNode } from '../../engine/fleetline-node.js';
import { startTestNode } from '../support/engine.js';

const root = new URL('../../', import.meta.url);

/** Runs engine/main.ts with exactly `env` (plus PATH); resolves with its exit code and stderr. */
function runMain(env: Record<string, string>): Promise<{ code: number | null; stderr: string; stdout: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('engine/main.ts', root))], {
    env: { PATH: process.env.PATH ?? '', PORT: '0', LOG_LEVEL: 'silent', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) => child.once('exit', (code) => {
    clearTimeout(timer);
    resolve({ code, stderr, stdout });
  }));
}

describe('#9 demo mode is explicit, local and never beside a real deployment', () => {
  for (const [variable, value] of [
    ['JWT_SECRET', 'a-real-secret-0123456789'], ['DATABASE_URL', 'postgres://127.0.0.1/x'], ['REDIS_URL', 'redis://127.0.0.1:6379'], ['KAFKA_BROKERS', '127.0.0.1:9092'],
  ]) {
    it(`#9 the demo refuses to start with ${variable} set`, () => {
      assert.throws(() => loadConfig({ FLEETLINE_MODE: 'demo', [variable]: value }), (e: unknown) =>
        e instanceof ConfigError && e.message.includes(`refuses to start with ${variable} set`) && e.message.includes('FLEETLINE_MODE=production'));
    });
  }

  it('#9 the refusal is a clear message on stderr, ending in a newline, exit code 2', async () => {
    const r = await runMain({ FLEETLINE_MODE: 'demo', DATABASE_URL: 'postgres://127.0.0.1/x', JWT_SECRET: 'a-real-secret-0123456789' });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^fleetline: invalid configuration:\n {2}the demo \(FLEETLINE_MODE=demo, what npm start runs\) refuses to start with JWT_SECRET, DATABASE_URL set/);
    assert.ok(r.stderr.endsWith('\n') && !r.stderr.endsWith('\n\n'), JSON.stringify(r.stderr.slice(-40)));
    assert.equal(r.stdout, '');
  });

  it('#9 without settings the entry point is production: it wants JWT_SECRET and never runs the demo', async () => {
    assert.equal(loadConfig({ JWT_SECRET: 'a-real-secret-0123456789' }).mode, 'production');
    assert.equal(loadConfig({ JWT_SECRET: 'a-real-secret-0123456789' }).host, '0.0.0.0');
    assert.equal(loadConfig({ JWT_SECRET: 'a-real-secret-0123456789' }).acceptUnboundDevices, false);
    const r = await runMain({});
    assert.equal(r.code, 2);
    assert.match(r.stderr, /JWT_SECRET is required in production mode/);
    assert.ok(r.stderr.endsWith('\n'));
  });

  it('#9 GET /v1/demo/token is 404 outside demo mode', async () => {
    const node = await startTestNode();
    try {
      const res = await fetch(`${node.url}/v1/demo/token`);
      assert.equal(res.status, 404);
      await res.arrayBuffer();
      assert.equal(node.demoToken, null);
    } finally {
      await node.close();
    }
  });

  it('#9 the demo listens on 127.0.0.1 unless HOST says otherwise, and serves its token there', async () => {
    assert.equal(loadConfig({ FLEETLINE_MODE: 'demo', HOST: '0.0.0.0' }).host, '0.0.0.0');
    const config = loadConfig({ FLEETLINE_MODE: 'demo', PORT: '0', DEMO_DEVICES: '20', LOG_LEVEL: 'silent' });
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.acceptUnboundDevices, true, 'the demo keeps its unbound devices');
    const node = await startNode(config, pino({ level: 'silent' }));
    try {
      assert.equal(node.url, `http://127.0.0.1:${node.port}`);
      const res = await fetch(`${node.url}/v1/demo/token`);
      assert.equal(res.status, 200);
      const { token } = (await res.json()) as { token: string };
      const read = await fetch(`${node.url}/v1/vehicles?limit=1`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(read.status, 200);
      await read.arrayBuffer();
    } finally {
      await node.close();
    }
  });

  it('#9 npm start runs the demo; docker-compose and the image run production', () => {
    const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { scripts: Record<string, string> };
    assert.match(pkg.scripts.start, /FLEETLINE_MODE=\$\{FLEETLINE_MODE:-demo\} node --max-semi-space-size=64 dist\/engine\/main\.js/);
    const compose = readFileSync(new URL('docker-compose.yml', root), 'utf8');
    assert.match(compose, /FLEETLINE_MODE: production/);
    assert.doesNotMatch(compose, /FLEETLINE_MODE: demo|DEMO_DEVICES/);
    const dockerfile = readFileSync(new URL('Dockerfile', root), 'utf8');
    // #11: with the young generation the restore and the intake are measured with.
    assert.match(dockerfile, /^CMD \["node", "--max-semi-space-size=64", "dist\/engine\/main\.js"\]$/m);
    assert.doesNotMatch(dockerfile, /^ENV .*FLEETLINE_MODE/m);
  });
});
