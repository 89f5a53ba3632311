import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { decode, ExtData } from '@msgpack/msgpack';
import WebSocket from 'ws';
import { SignJWT } from 'jose';
import { loadConfig, type Config } from '../../engine/config.js';
import { startNode, type FleetlineNode } from '../../engine/fleetline-node.js';
import type { FleetSnapshot } from '../../actors/domain/reference-data.js';
import { DEFAULT_SETTINGS, parseSettingsOverride, resolveSettings, type DomainSettings } from '../../actors/domain/domain-settings.js';

export const TEST_SECRET = 'test-secret-0123456789abcdef';

export const testFleet: FleetSnapshot = {
  companies: [
    { id: 'A', name: 'Company A', active: true },
    { id: 'B', name: 'Company B', active: true },
  ],
  vehicles: [
    { id: 'va1', companyId: 'A', name: 'A one', speedLimit: 60 },
    { id: 'va2', companyId: 'A', name: 'A two' },
    { id: 'vb1', companyId: 'B', name: 'B one' },
  ],
  devices: [
    { deviceId: 'da1', vehicleId: 'va1' },
    { deviceId: 'da2', vehicleId: 'va2' },
    { deviceId: 'db1', vehicleId: 'vb1' },
  ],
};

export function writeFleetFile(fleet: FleetSnapshot = testFleet): string {
  const dir = mkdtempSync(join(tmpdir(), 'fleetline-test-'));
  const file = join(dir, 'fleet.json');
  writeFileSync(file, JSON.stringify(fleet));
  return file;
}

/**
 * The vehicle filters that drop GPS jumps and snap standstill jitter are off in engine-level
 * tests, whose fleets hop kilometres between points to test routing, delivery and recovery;
 * the filters have table-driven tests of their own (test/actors/vehicle-domain.test.ts), and
 * a test that wants them passes its own DOMAIN_SETTINGS.
 */
export const TEST_DOMAIN_SETTINGS = JSON.stringify({ filterMaxSpeedKmh: 0, jitterRadiusM: 0 });

/** The settings a node started with TEST_DOMAIN_SETTINGS runs (for oracles that replay the vehicle logic). */
export const testDomainSettings: DomainSettings = resolveSettings(DEFAULT_SETTINGS, parseSettingsOverride(JSON.parse(TEST_DOMAIN_SETTINGS)).value);

/** Starts a node on port 0 with no demo, the test fleet and the given overrides. */
export async function startTestNode(env: Record<string, string> = {}): Promise<FleetlineNode> {
  const config: Config = loadConfig({
    PORT: '0', HOST: '127.0.0.1', DEMO_DEVICES: '0', JWT_SECRET: TEST_SECRET, FLEET_FILE: writeFleetFile(),
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent', CHECKPOINT_INTERVAL_MS: '200', DOMAIN_SETTINGS: TEST_DOMAIN_SETTINGS, ...env,
  });
  return startNode(config, pino({ level: config.logLevel }));
}

export type Frame = Record<string, unknown> & { t: string };

/** Throws if any value in the tree is a MessagePack extension: frames must be standard MessagePack only. */
export function assertNoExtensions(v: unknown, path = '$'): void {
  if (v instanceof ExtData) throw new Error(`extension type ${v.type} at ${path}`);
  if (Array.isArray(v)) v.forEach((x, i) => assertNoExtensions(x, `${path}[${i}]`));
  else if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array)) {
    for (const [k, x] of Object.entries(v)) assertNoExtensions(x, `${path}.${k}`);
  }
}

/** The server frames that carry `seq` (docs/protocol.md): it increases by exactly one with each. */
export const SEQ_FRAME_TYPES: ReadonlySet<string> = new Set(['snap', 'd', 'gone', 'ev', 'unsubbed', 'cl']);

/**
 * A real WebSocket client that decodes every frame with a standard decoder (@msgpack/msgpack)
 * and checks `seq` on every frame that carries it: the first is 1, each next one is the last
 * plus one. A gap, a repeat or a missing `seq` fails the test at the next `next()`, `closed()`
 * or `close()` (#7.14), so every test that reads a stream checks continuity.
 */
export class StreamClient {
  readonly frames: Frame[] = [];
  readonly frameTimes: number[] = [];
  closeCode: number | null = null;
  /** The last `seq` received (0 before the first). */
  lastSeq = 0;
  /** The first seq discontinuity seen, if any. */
  seqViolation: Error | null = null;
  private waiters: (() => void)[] = [];
  readonly ws: WebSocket;

  private constructor(url: string) {
    this.ws = new WebSocket(url);
    this.ws.binaryType = 'nodebuffer';
    this.ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) throw new Error('server sent a text frame');
      const frame = decode(data) as Frame;
      assertNoExtensions(frame);
      this.checkSeq(frame);
      this.frames.push(frame);
      this.frameTimes.push(performance.now());
      this.notify();
    });
    this.ws.on('close', (code) => {
      this.closeCode = code;
      this.notify();
    });
    this.ws.on('error', () => this.notify());
  }

  static async connect(baseUrl: string, token?: string): Promise<StreamClient> {
    const url = baseUrl.replace(/^http/, 'ws') + '/v1/stream' + (token ? `?token=${encodeURIComponent(token)}` : '');
    const c = new StreamClient(url);
    await new Promise<void>((resolve, reject) => {
      c.ws.once('open', () => resolve());
      c.ws.once('error', reject);
    });
    return c;
  }

  private checkSeq(frame: Frame): void {
    if (!SEQ_FRAME_TYPES.has(frame.t)) return;
    const seq = frame.seq;
    if (typeof seq !== 'number' || !Number.isInteger(seq)) {
      this.seqViolation ??= new Error(`#7.14 a ${frame.t} frame without an integer seq (${JSON.stringify(seq)}) after seq ${this.lastSeq}`);
      return;
    }
    if (seq !== this.lastSeq + 1) {
      const what = seq <= this.lastSeq ? 'repeat' : 'gap';
      this.seqViolation ??= new Error(`#7.14 seq ${what}: a ${frame.t} frame with seq ${seq} after seq ${this.lastSeq} (frame ${this.frames.length})`);
    }
    this.lastSeq = seq;
  }

  /** Throws the first seq discontinuity seen so far. */
  assertSeqContinuity(): void {
    if (this.seqViolation) throw this.seqViolation;
  }

  private notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  send(frame: unknown, encoder: (v: unknown) => Uint8Array): void {
    this.ws.send(encoder(frame));
  }

  /** Waits until a frame after index `from` satisfies `pred`; returns it. */
  async next(pred: (f: Frame) => boolean, timeoutMs = 5000, from = 0): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.assertSeqContinuity();
      const f = this.frames.slice(from).find(pred);
      if (f) return f;
      if (this.closeCode !== null) throw new Error(`socket closed (${this.closeCode}) while waiting`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames.map((x) => x.t))}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => { clearTimeout(t); r(); });
      });
    }
  }

  async closed(timeoutMs = 5000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (this.closeCode === null) {
      if (Date.now() > deadline) throw new Error('socket not closed');
      await new Promise((r) => setTimeout(r, 10));
    }
    this.assertSeqContinuity();
    return this.closeCode;
  }

  /** Closes the socket; throws if the frames received broke seq continuity. */
  close(): void {
    this.ws.close();
    this.assertSeqContinuity();
  }
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/**
 * A token signed with TEST_SECRET, as an issuer outside the engine would mint it (jose, HS256,
 * with `exp`). Intake credentials are tokens too: `{ role: 'admin' }` may move any device,
 * `{ role: 'ingest', companies }` only the devices of those companies.
 */
export async function testToken(claims: Record<string, unknown>, expiresIn: string | number = '1h'): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime(expiresIn).sign(new TextEncoder().encode(TEST_SECRET));
}

/** Headers of an intake call made with an admin credential. */
export async function adminHeaders(): Promise<Record<string, string>> {
  return { authorization: `Bearer ${await testToken({ role: 'admin', sub: 'test' })}` };
}
