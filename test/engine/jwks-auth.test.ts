import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode } from '@msgpack/msgpack';
import { exportJWK, exportPKCS8, exportSPKI, generateKeyPair, SignJWT, UnsecuredJWT, type CryptoKey, type JWK } from 'jose';
import { FleetlineError } from '../../actors/domain/errors.js';
import { JwtAuth } from '../../engine/auth.js';
import { ConfigError, loadConfig } from '../../engine/config.js';
import type { FleetlineNode } from '../../engine/fleetline-node.js';
import { openJwks, preloadJwks } from '../../engine/jwks.js';
import { postJson, startTestNode, StreamClient, TEST_SECRET, testToken } from '../support/engine.js';

// RS256 tokens verified with the public keys of a JWKS, from a file and from an identity
// provider's URL (a local HTTP server on 127.0.0.1 here). The key pairs are made in the test,
// and the tokens minted with jose as an identity provider would.

interface KeyPair { publicKey: CryptoKey; privateKey: CryptoKey; jwk: JWK }

async function keyPair(kid: string): Promise<KeyPair> {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  return { publicKey, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } };
}

function rs256(claims: Record<string, unknown>, key: CryptoKey, kid: string, alg = 'RS256', expiresIn: string | null = '1h'): Promise<string> {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg, kid }).setIssuedAt();
  if (expiresIn !== null) jwt.setExpirationTime(expiresIn);
  return jwt.sign(key);
}

function jwksFile(keys: JWK[], dir = mkdtempSync(join(tmpdir(), 'fleetline-jwks-'))): string {
  const file = join(dir, 'jwks.json');
  writeFileSync(file, JSON.stringify({ keys }));
  return file;
}

/** A local identity provider: serves the JWKS at /jwks.json and counts the fetches. */
async function jwksServer(keys: JWK[]): Promise<{ url: string; fetches: () => number; close: () => Promise<void> }> {
  let fetches = 0;
  const server: Server = createServer((req, res) => {
    if (req.url !== '/jwks.json') return void res.writeHead(404).end();
    fetches++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`,
    fetches: () => fetches,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

const refused = (e: unknown) => e instanceof FleetlineError && e.code === 'BAD_TOKEN';

describe('#9 RS256 tokens with keys from a JWKS', () => {
  let good: KeyPair;
  let other: KeyPair;
  let idp: Awaited<ReturnType<typeof jwksServer>>;
  before(async () => {
    good = await keyPair('k1');
    other = await keyPair('k2');
    idp = await jwksServer([good.jwk]);
  });
  after(async () => idp.close());

  const sources = () => [
    ['file', { file: jwksFile([good.jwk]) }],
    ['URL', { url: idp.url }],
  ] as const;

  /** What every source must refuse: [why, token]. */
  const forgeries = async (): Promise<Array<[string, string]>> => {
    const pem = await exportSPKI(good.publicKey);
    const claims = { companies: ['A'] };
    return [
      ['signed with another key under the same kid', await rs256(claims, other.privateKey, 'k1')],
      ['signed with a key the set does not hold (unknown kid)', await rs256(claims, other.privateKey, 'k2')],
      ['alg "none" (an unsecured JWT)', new UnsecuredJWT(claims).setIssuedAt().setExpirationTime('1h').encode()],
      ['HS256 with the public key (PEM) as the HMAC secret: the algorithm confusion', await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).setIssuedAt().setExpirationTime('1h').sign(new TextEncoder().encode(pem))],
      ['HS256 with the public JWK as the HMAC secret', await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).setIssuedAt().setExpirationTime('1h').sign(new TextEncoder().encode(JSON.stringify(good.jwk)))],
      // A KeyObject: a WebCrypto key is bound to its one hash.
      ['RS512 with the right key (only RS256 is accepted)', await new SignJWT(claims).setProtectedHeader({ alg: 'RS512', kid: 'k1' }).setIssuedAt().setExpirationTime('1h').sign(createPrivateKey(await exportPKCS8(good.privateKey)))],
      ['RS256 with the right key but no exp', await rs256(claims, good.privateKey, 'k1', 'RS256', null)],
      ['RS256 with the right key, expired', await rs256(claims, good.privateKey, 'k1', 'RS256', '-2h')],
      ['HS256 signed with a secret, on a node that has none', await testToken(claims)],
    ];
  };

  for (const [name, make] of [['file', 0], ['URL', 1]] as const) {
    it(`#9 JWKS from a ${name}: a token signed with its key is accepted; another key, alg none, HS256 confusion, other algs, no exp are refused`, async () => {
      const auth = new JwtAuth(null, { maxLifetimeS: 86_400, jwks: openJwks(sources()[make][1]) });
      const session = await auth.verifySession(await rs256({ companies: ['A'], sub: 'u1' }, good.privateKey, 'k1'));
      assert.deepEqual([...(session.grant ?? [])], ['A']);
      assert.equal(await auth.verify(await rs256({ role: 'admin' }, good.privateKey, 'k1')), null);
      for (const [why, token] of await forgeries()) await assert.rejects(auth.verify(token), refused, why);
    });
  }

  it('#9 HS256 and RS256 side by side: each token is checked with its own key, and a public key is never an HMAC secret', async () => {
    const auth = new JwtAuth(TEST_SECRET, { maxLifetimeS: 86_400, jwks: openJwks({ file: jwksFile([good.jwk]) }) });
    assert.deepEqual([...((await auth.verify(await testToken({ companies: ['A'] }))) ?? [])], ['A']);
    assert.deepEqual([...((await auth.verify(await rs256({ companies: ['B'] }, good.privateKey, 'k1'))) ?? [])], ['B']);
    for (const [why, token] of (await forgeries()).filter(([why]) => !why.startsWith('HS256 signed with a secret'))) {
      await assert.rejects(auth.verify(token), refused, why);
    }
  });

  it('#9 the remote JWKS is fetched once and cached, not once per token', async () => {
    const fresh = await jwksServer([good.jwk]);
    try {
      const auth = new JwtAuth(null, { maxLifetimeS: 86_400, jwks: openJwks({ url: fresh.url }) });
      for (let i = 0; i < 5; i++) await auth.verify(await rs256({ companies: ['A'] }, good.privateKey, 'k1'));
      assert.equal(fresh.fetches(), 1);
    } finally {
      await fresh.close();
    }
  });

  it('#9 keys rotate: a token with a kid the file did not hold is accepted once the file holds it, without a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fleetline-jwks-'));
    const auth = new JwtAuth(null, { maxLifetimeS: 86_400, jwks: openJwks({ file: jwksFile([good.jwk], dir), refreshMs: 0 }) });
    const rotated = await rs256({ companies: ['A'] }, other.privateKey, 'k2');
    await assert.rejects(auth.verify(rotated), refused);
    jwksFile([good.jwk, other.jwk], dir);
    assert.deepEqual([...((await auth.verify(rotated)) ?? [])], ['A']);
  });

  it('#9 a node fetches a remote JWKS at start to log it; an unreachable one is reported, not fatal', async () => {
    const fresh = await jwksServer([good.jwk, other.jwk]);
    try {
      assert.equal(await preloadJwks(openJwks({ url: fresh.url })!), 2);
      assert.equal(fresh.fetches(), 1);
    } finally {
      await fresh.close();
    }
    assert.equal(await preloadJwks(openJwks({ file: jwksFile([good.jwk]) })!), null);
    await assert.rejects(preloadJwks(openJwks({ url: 'http://127.0.0.1:1/jwks.json' })!));
  });

  it('#9 a JWKS file that is missing or not a key set stops the start', () => {
    assert.throws(() => openJwks({ file: '/nonexistent/jwks.json' }), /ENOENT/);
    const dir = mkdtempSync(join(tmpdir(), 'fleetline-jwks-'));
    writeFileSync(join(dir, 'bad.json'), '{"kty":"RSA"}');
    assert.throws(() => openJwks({ file: join(dir, 'bad.json') }), /not a JSON Web Key Set/);
  });

  it('#9 configuration: RS256 alone (no JWT_SECRET) is a valid production config; file and URL are exclusive; the demo refuses a JWKS', () => {
    assert.equal(loadConfig({ JWT_JWKS_URL: 'https://idp.example/.well-known/jwks.json' }).jwtSecret, null);
    assert.equal(loadConfig({ JWT_JWKS_FILE: '/etc/fleetline/jwks.json' }).jwtJwksFile, '/etc/fleetline/jwks.json');
    assert.throws(() => loadConfig({}), (e: unknown) => e instanceof ConfigError && /JWT_SECRET is required in production mode \(or a JWKS/.test(e.message));
    assert.throws(() => loadConfig({ JWT_JWKS_FILE: '/x.json', JWT_JWKS_URL: 'https://idp.example/jwks' }), /exclusive/);
    assert.throws(() => loadConfig({ JWT_JWKS_URL: 'file:///etc/passwd' }), /must be an http\(s\) URL/);
    assert.throws(() => loadConfig({ FLEETLINE_MODE: 'demo', JWT_JWKS_URL: 'https://idp.example/jwks' }), /refuses to start with JWT_JWKS_URL/);
  });

  for (const [name, env] of [['JWT_JWKS_FILE', () => ({ JWT_JWKS_FILE: jwksFile([good.jwk]) })], ['JWT_JWKS_URL', () => ({ JWT_JWKS_URL: idp.url })]] as const) {
    describe(`#9 a production node with RS256 only (${name}, no JWT_SECRET)`, () => {
      let node: FleetlineNode;
      before(async () => {
        node = await startTestNode({ JWT_SECRET: '', ...env() });
      });
      after(async () => node.close());

      it('#9 reads, the stream and intake take RS256 tokens; HS256 tokens and forgeries are refused', async () => {
        const ingest = await rs256({ role: 'ingest', companies: ['A', 'B'], sub: 'gw' }, good.privateKey, 'k1');
        const now = Date.now();
        const posted = await postJson(`${node.url}/v1/telemetry`, [{ deviceId: 'da1', ts: now, lat: 52.5, lon: 13.4 }, { deviceId: 'db1', ts: now, lat: 52.6, lon: 13.5 }], { authorization: `Bearer ${ingest}` });
        assert.equal(posted.status, 202);
        assert.equal(posted.body.accepted, 2);
        for (let i = 0; i < 200 && node.index.size < 2; i++) await new Promise((r) => setTimeout(r, 10));

        const reader = await rs256({ companies: ['A'], sub: 'dispatcher' }, good.privateKey, 'k1');
        const list = await fetch(`${node.url}/v1/vehicles`, { headers: { authorization: `Bearer ${reader}` } });
        assert.equal(list.status, 200);
        const body = (await list.json()) as { vehicles: { id: string }[] };
        assert.deepEqual(body.vehicles.map((v) => v.id), ['va1']);

        const c = await StreamClient.connect(node.url, reader);
        await c.next((f) => f.t === 'ready');
        c.send({ t: 'sub' }, (v) => encode(v));
        const snap = await c.next((f) => f.t === 'snap');
        assert.deepEqual((snap.vehicles as { id: string }[]).map((v) => v.id), ['va1']);
        c.close();

        for (const token of [await testToken({ companies: ['A'] }), ...(await forgeries()).map(([, t]) => t)]) {
          assert.equal((await fetch(`${node.url}/v1/vehicles`, { headers: { authorization: `Bearer ${token}` } })).status, 401);
          assert.equal(await (await StreamClient.connect(node.url, token)).closed(), 4003);
        }
      });
    });
  }
});
