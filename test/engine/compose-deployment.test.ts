import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

const root = new URL('../../', import.meta.url);
const compose = readFileSync(new URL('docker-compose.yml', root), 'utf8');
const haproxy = readFileSync(new URL('infra/haproxy/haproxy.cfg', root), 'utf8');

/** The top-level services of docker-compose.yml, each with its own block of lines. */
function services(): Map<string, string> {
  const block = compose.slice(compose.indexOf('\nservices:\n') + '\nservices:\n'.length, compose.indexOf('\nvolumes:\n'));
  const out = new Map<string, string>();
  for (const part of block.split(/\n(?= {2}[a-z0-9-]+:\n)/)) {
    const name = /^\s*([a-z0-9-]+):/.exec(part)?.[1];
    if (name) out.set(name, part);
  }
  return out;
}

describe('docker-compose.yml: the production way, three nodes behind one port', () => {
  it('#8 three production engines publish no port; one proxy publishes the only HTTP/WebSocket port and balances over every engine with a /readyz check', () => {
    const all = services();
    const engines = [...all.keys()].filter((n) => /^engine-\d+$/.test(n));
    assert.deepEqual(engines, ['engine-1', 'engine-2', 'engine-3']);
    assert.match(compose, /FLEETLINE_MODE: production/);
    assert.doesNotMatch(compose, /FLEETLINE_MODE: demo|DEMO_DEVICES/);
    for (const e of engines) {
      assert.doesNotMatch(all.get(e) as string, /\n\s+ports:/, `${e} publishes no port of its own`);
      assert.match(all.get(e) as string, new RegExp(`ADVERTISED_URL: http://${e}:8080`), `${e} announces its URL to the CLI`);
      assert.match(haproxy, new RegExp(`^\\s+server ${e} ${e}:8080$`, 'm'), `the proxy balances over ${e}`);
    }
    const published = [...all].filter(([, text]) => /\n\s+ports:/.test(text)).map(([name]) => name);
    assert.deepEqual(published, ['kafka', 'proxy'], 'besides Kafka\'s host listener, only the proxy publishes a port');
    assert.match(all.get('proxy') as string, /"127\.0\.0\.1:8080:8080"/);
    assert.match(all.get('proxy') as string, /\.\/infra\/haproxy\/haproxy\.cfg:\/usr\/local\/etc\/haproxy\/haproxy\.cfg:ro/);
    assert.match(haproxy, /http-check send meth GET uri \/readyz/);
    assert.match(haproxy, /timeout tunnel/, 'upgraded WebSockets get a tunnel timeout, not the request one');
  });

  it('#8 a drained engine (exit 0) stays down: the engines restart on failure only', () => {
    assert.match(compose, /x-engine: &engine\n(?:.*\n)*?\s+restart: on-failure\n/);
  });
});
