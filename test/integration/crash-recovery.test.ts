import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel, Partitioners, type Producer } from 'kafkajs';
import { applyPoint, newVehicleState, type VehicleState } from '../../actors/vehicle-logic.js';
import type { TelemetryPoint } from '../../actors/domain/telemetry-point.js';
import type { VehicleEvent } from '../../actors/domain/vehicle-event.js';
import type { VehicleView } from '../../actors/domain/vehicle-state.js';
import { encodeMsgpack } from '../../adapters/codec/msgpack-codec.js';
import { EngineProcess } from '../support/engine-process.js';
import { testToken, testDomainSettings } from '../support/engine.js';
import { createRealDeployment, seedReference, TEST_KAFKA_BROKERS, type RealDeployment } from '../support/real-services.js';
import { settledHistoryMatches } from '../support/stored-history.js';

const VEHICLES = 40;
const ROUNDS = 60;
const SPEED_LIMIT = 60;

/** Deterministic points: each device drives a random walk; speed crosses the limit, ignition toggles. */
function makePoints(start: number, rounds: number, seed: number): TelemetryPoint[][] {
  let s = seed;
  const rnd = () => ((s = (s * 16807) % 2147483647) / 2147483647);
  const perRound: TelemetryPoint[][] = [];
  const pos = Array.from({ length: VEHICLES }, (_, i) => ({ lat: 52.4 + i * 0.003, lon: 13.3 + i * 0.002 }));
  for (let r = 0; r < rounds; r++) {
    const round: TelemetryPoint[] = [];
    for (let i = 0; i < VEHICLES; i++) {
      const speed = Math.round(rnd() * 90);
      pos[i].lat += (rnd() - 0.5) * 0.002;
      pos[i].lon += (rnd() - 0.5) * 0.002;
      const p: TelemetryPoint = {
        deviceId: `dev-${i}`, ts: start + r * 1000 + i, lat: Math.round(pos[i].lat * 1e6) / 1e6, lon: Math.round(pos[i].lon * 1e6) / 1e6,
        speed, ignition: speed > 5 || rnd() > 0.5, fuel: 50 - r * 0.1, ...(r === 0 && start === BASE ? { odometer: 1000 + i } : {}),
      };
      round.push(p);
    }
    perRound.push(round);
  }
  return perRound;
}

const BASE = Date.now() - 3 * 3_600_000;

/**
 * What an uninterrupted run ends with: the pure actor logic applied once to every produced
 * point, in order, with a fresh state per vehicle — its final views and every event it emits.
 */
function expected(all: TelemetryPoint[]): { views: Map<string, VehicleView>; events: VehicleEvent[] } {
  const states = new Map<string, VehicleState>();
  const events: VehicleEvent[] = [];
  for (const p of all) {
    const id = vehicleOf(p);
    let st = states.get(id);
    if (!st) states.set(id, (st = newVehicleState({ vehicleId: id, company: 'A', name: id, speedLimit: SPEED_LIMIT, settings: testDomainSettings }, p.deviceId, 0)));
    applyPoint(st, p, events);
  }
  return { views: new Map([...states].map(([id, st]) => [id, st.view as VehicleView])), events };
}

const vehicleOf = (p: TelemetryPoint): string => `veh-${p.deviceId.slice(4)}`;

async function produce(producer: Producer, topic: string, points: TelemetryPoint[]): Promise<void> {
  await producer.send({ topic, acks: -1, messages: points.map((p) => ({ key: p.deviceId, value: Buffer.from(encodeMsgpack(p)) })) });
}

async function engineViews(engine: EngineProcess, token: string): Promise<Map<string, VehicleView>> {
  const res = await fetch(`${engine.url}/v1/vehicles?company=A`, { headers: { authorization: `Bearer ${token}` } });
  const body = (await res.json()) as { vehicles: VehicleView[] };
  return new Map(body.vehicles.map((v) => [v.id, v]));
}

async function waitForFinal(engine: EngineProcess, token: string, want: Map<string, VehicleView>, timeoutMs = 60_000): Promise<Map<string, VehicleView>> {
  const deadline = Date.now() + timeoutMs;
  let got = new Map<string, VehicleView>();
  while (Date.now() < deadline) {
    got = await engineViews(engine, token);
    if ([...want].every(([id, v]) => got.get(id)?.ts === v.ts)) return got;
    await new Promise((r) => setTimeout(r, 200));
  }
  return got;
}

function assertSameState(got: Map<string, VehicleView>, want: Map<string, VehicleView>): void {
  assert.equal(got.size, want.size);
  for (const [id, v] of want) {
    const g = got.get(id);
    assert.ok(g, `vehicle ${id} missing`);
    for (const f of ['lat', 'lon', 'ts', 'speed', 'course', 'ignition', 'fuel', 'odometer', 'moving'] as const) {
      assert.deepEqual(g[f], v[f], `${id}.${f}: engine ${g[f]} vs expected ${v[f]}`);
    }
  }
}

describe('crash recovery against real Kafka, Redis and PostgreSQL', () => {
  let dep: RealDeployment;
  let producer: Producer;
  let token: string;
  const env = () => ({ ...dep.env, CHECKPOINT_INTERVAL_MS: '250', NODE_ID: 'crash-test' });
  const produced: TelemetryPoint[] = [];
  // Every engine a test starts: a failed assertion must not leave one running (and the run hanging).
  const engines: EngineProcess[] = [];
  const newEngine = () => {
    const e = new EngineProcess(env());
    engines.push(e);
    return e;
  };

  before(async () => {
    dep = await createRealDeployment(4);
    await seedReference(dep.db, [{ id: 'A' }], Array.from({ length: VEHICLES }, (_, i) => ({ id: `veh-${i}`, companyId: 'A', deviceId: `dev-${i}` })));
    await dep.db.pool.query('UPDATE vehicles SET speed_limit = $1', [SPEED_LIMIT]);
    const kafka = new Kafka({ brokers: TEST_KAFKA_BROKERS.split(','), clientId: 'crash-test', logLevel: logLevel.NOTHING });
    producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    token = await testToken({ role: 'admin', sub: 'crash-test' });
  });
  after(async () => {
    for (const e of engines) await e.kill9();
    await producer?.disconnect();
    await dep?.cleanup();
  });

  it('#7.14 kill -9 at a random moment while points flow: state, events and positions are exactly those of an uninterrupted run (none missing, none extra)', async () => {
    const engine = newEngine();
    await engine.start();
    const rounds = makePoints(BASE, ROUNDS, 7);
    const killAt = 10 + Math.floor(Math.random() * 30);
    let killed = false;
    for (let r = 0; r < rounds.length; r++) {
      await produce(producer, dep.topic('telemetry.raw'), rounds[r]);
      produced.push(...rounds[r]);
      if (r === killAt) {
        await engine.kill9();
        killed = true;
      } else await new Promise((res) => setTimeout(res, 40));
    }
    assert.ok(killed);
    const restarted = newEngine();
    await restarted.start();
    const want = expected(produced);
    const got = await waitForFinal(restarted, token, want.views);
    assertSameState(got, want.views);
    const stored = await settledHistoryMatches(dep, produced, want.events, vehicleOf);
    console.log(`# killed after round ${killAt} of ${ROUNDS}; ${produced.length} points, ${stored.events} events, state and history identical`);
    await restarted.stop();
  });

  it('#7.14 restart with Redis flushed: state comes back from PostgreSQL snapshots plus replay, events and positions exactly those of an uninterrupted run', async () => {
    assert.ok((await dep.redis.keys()).length > 0, 'redis held the hot tier');
    await dep.redis.empty();
    const more = makePoints(BASE + ROUNDS * 1000 + 500, 5, 11);
    for (const round of more) {
      await produce(producer, dep.topic('telemetry.raw'), round);
      produced.push(...round);
    }
    const engine = newEngine();
    await engine.start();
    const want = expected(produced);
    const got = await waitForFinal(engine, token, want.views);
    assertSameState(got, want.views);
    await settledHistoryMatches(dep, produced, want.events, vehicleOf);
    await engine.stop();
  });
});
