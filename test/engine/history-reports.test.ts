import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decode } from '@msgpack/msgpack';
import type { FleetlineNode } from '../../engine/fleetline-node.js';
import { PgHistoryStore } from '../../adapters/postgres/pg-history-store.js';
import { DAY_MS, dayStart } from '../../adapters/postgres/position-partitions.js';
import type { PositionRow } from '../../actors/ports/history-store.js';
import type { TripSegment } from '../../actors/domain/trip-segment.js';
import type { VehicleEvent } from '../../actors/domain/vehicle-event.js';
import { createTestDatabase, type TestDatabase } from '../postgres/pg-test-db.js';
import { seedReference } from '../support/real-services.js';
import { assertNoExtensions, startTestNode, testToken } from '../support/engine.js';

/** Five days ago at 00:00Z: inside the default retention, wherever the suite runs. */
const T0 = dayStart(Date.now()) - 5 * DAY_MS;
const MIN = 60_000;
const FROM = T0;
const TO = T0 + DAY_MS;
const range = `from=${FROM}&to=${TO}`;

function seg(vehicleId: string, company: string | null, kind: TripSegment['kind'], startMin: number, endMin: number, distanceKm: number, maxSpeed: number, idleMs: number): TripSegment {
  const startTs = T0 + startMin * MIN;
  return {
    id: `${vehicleId}:${kind}:${startTs}`, kind, vehicleId, company, deviceId: `d-${vehicleId}`, startTs, endTs: T0 + endMin * MIN,
    startLat: 52.5, startLon: 13.4, endLat: 52.6, endLon: 13.5, distanceKm, maxSpeed, avgSpeed: distanceKm / ((endMin - startMin) / 60) || 0, idleMs, closed: true,
  };
}

function ev(vehicleId: string, company: string | null, type: string, atMin: number): VehicleEvent {
  const ts = T0 + atMin * MIN;
  return { id: `${vehicleId}:${type}:${ts}`, vehicleId, company, type: type as VehicleEvent['type'], ts, lat: 52.5, lon: 13.4, data: { speed: 99, note: 'a, "quoted" note' } };
}

const SEGMENTS: TripSegment[] = [
  seg('va1', 'A', 'trip', -30, 10, 7, 70, 0), // starts before `from`: not in the period
  seg('va1', 'A', 'trip', 60, 90, 20, 80, 0),
  seg('va1', 'A', 'stop', 90, 120, 0, 0, 120_000),
  seg('va1', 'A', 'trip', 120, 150, 25, 100, 60_000),
  seg('va1', 'A', 'stop', 150, 200, 0, 0, 0),
  seg('va1', 'A', 'trip', 200, 260, 40, 95.5, 0),
  seg('va1', 'B', 'trip', 300, 330, 9, 50, 0), // recorded while va1 was B's: never shown to A
  seg('va2', 'A', 'trip', 30, 45, 5, 40, 0),
  seg('va2', 'A', 'trip', 500, 520, 6, 45, 0),
  seg('vb1', 'B', 'trip', 60, 120, 50, 110, 0),
  seg('vb1', 'B', 'stop', 120, 180, 0, 0, 30_000),
];

const EVENTS: VehicleEvent[] = [
  ev('va1', 'A', 'overspeed_start', -10),
  ev('va1', 'A', 'overspeed', 130), // the name before overspeeds had a start and an end: counted too
  ev('va1', 'A', 'overspeed_start', 210),
  ev('va1', 'A', 'overspeed_end', 212), // the end of the same overspeed: not a second one
  ev('va1', 'A', 'trip_start', 60),
  ev('va1', 'A', 'trip_end', 90),
  ev('va1', 'A', 'ignition_on', 60), // same ts as trip_start: the (ts, id) order pages ties
  ev('vb1', 'B', 'overspeed', 70),
];

/** va1 drives 2 h at 1 point / 10 s: east for an hour weaving ±15 m with centimetre jitter, then straight north. */
function route(): PositionRow[] {
  const rows: PositionRow[] = [];
  for (let k = 0; k < 720; k++) {
    const jitter = ((k * 7919) % 11) * 1e-7 - 5e-7;
    const east = Math.min(k, 360);
    const north = Math.max(0, k - 360);
    const weave = k < 360 ? 1.35e-4 * Math.sin(k / 20) : 0;
    rows.push({ vehicleId: 'va1', point: { deviceId: 'da1', ts: T0 + 60 * MIN + k * 10_000, lat: 52.5 + north * 1e-4 + weave + jitter, lon: 13.4 + east * 1.5e-4 + jitter, speed: 50 + (k % 3), course: 90 } });
  }
  for (let k = 0; k < 50; k++) rows.push({ vehicleId: 'vb1', point: { deviceId: 'db1', ts: T0 + 60 * MIN + k * 10_000, lat: 48 + k * 1e-4, lon: 11 } });
  return rows;
}

/** Metres from p to segment ab on a local plane (an implementation of its own, not the engine's). */
function distanceToSegmentM(p: [number, number], a: [number, number], b: [number, number]): number {
  const k = 111_195;
  const c = Math.cos((52.5 * Math.PI) / 180);
  const P = [p[1] * k * c, p[0] * k];
  const A = [a[1] * k * c, a[0] * k];
  const B = [b[1] * k * c, b[0] * k];
  const dx = B[0] - A[0];
  const dy = B[1] - A[1];
  const t = dx === 0 && dy === 0 ? 0 : Math.max(0, Math.min(1, ((P[0] - A[0]) * dx + (P[1] - A[1]) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(P[0] - (A[0] + t * dx), P[1] - (A[1] + t * dy));
}

/** RFC 4180 reader: quoted fields, doubled quotes, CRLF records. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { record.push(field); field = ''; } else if (c === '\r' && text[i + 1] === '\n') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      i++;
    } else field += c;
  }
  assert.equal(field + record.join(''), '', 'the CSV ends with CRLF');
  return records;
}

describe('#10 history and reports over HTTP on the real PostgreSQL', () => {
  let db: TestDatabase;
  let node: FleetlineNode;
  let store: PgHistoryStore;
  const tokens: Record<string, string> = {};

  before(async () => {
    db = await createTestDatabase();
    await seedReference(db, [{ id: 'A' }, { id: 'B' }], [
      { id: 'va1', companyId: 'A', deviceId: 'da1' }, { id: 'va2', companyId: 'A', deviceId: 'da2' }, { id: 'vb1', companyId: 'B', deviceId: 'db1' },
    ]);
    store = new PgHistoryStore(db.pool);
    await store.appendPositions(route());
    await store.upsertSegments(SEGMENTS);
    await store.appendEvents(EVENTS);
    node = await startTestNode({ DATABASE_URL: db.url });
    tokens.A = await testToken({ companies: ['A'] });
    tokens.B = await testToken({ companies: ['B'] });
    tokens.admin = await testToken({ role: 'admin' });
  });
  after(async () => {
    await node?.close();
    await db?.drop();
  });

  const get = (path: string, token: string, headers: Record<string, string> = {}) =>
    fetch(`${node.url}${path}`, { headers: { authorization: `Bearer ${token}`, ...headers } });
  const getJson = async <T = Record<string, unknown>>(path: string, token: string): Promise<T> => {
    const res = await get(path, token);
    const body = await res.json();
    assert.equal(res.status, 200, `${path}: ${JSON.stringify(body)}`);
    return body as T;
  };
  type Page = { trips?: TripSegment[]; stops?: TripSegment[]; events?: { id: string }[]; nextCursor: string | null; count: number };

  it('#10 a token of company A never sees company B: track, events, trips, stops, summary', async () => {
    for (const path of [`/v1/vehicles/vb1/track?${range}`, `/v1/vehicles/vb1/events?${range}`, `/v1/reports/trips?${range}&vehicle=vb1`,
      `/v1/reports/summary?${range}&vehicle=vb1`, `/v1/vehicles/nope/track?${range}`]) {
      const res = await get(path, tokens.A);
      assert.equal(res.status, 404, path);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'NOT_FOUND');
    }
    const trips = await getJson<Page>(`/v1/reports/trips?${range}`, tokens.A);
    assert.deepEqual(trips.trips!.map((t) => t.id).sort(), SEGMENTS.filter((s) => s.kind === 'trip' && s.company === 'A' && s.startTs >= FROM).map((s) => s.id).sort());
    assert.equal((await getJson<Page>(`/v1/reports/trips?${range}&company=B`, tokens.A)).count, 0, 'company=B narrows A\'s grant to nothing');
    const both = await getJson<Page>(`/v1/reports/trips?${range}`, await testToken({ companies: ['A', 'B'] }));
    assert.deepEqual(both.trips!.map((t) => t.id).sort(), SEGMENTS.filter((s) => s.kind === 'trip' && s.startTs >= FROM).map((s) => s.id).sort(), 'two companies: the rows of both');
    const twoVehicles = await getJson<Page>(`/v1/reports/trips?${range}&vehicle=va1,va2`, tokens.A);
    assert.deepEqual(new Set(twoVehicles.trips!.map((t) => t.vehicleId)), new Set(['va1', 'va2']));
    assert.equal(twoVehicles.count, 5, "va1's three and va2's two, not va1's trip recorded for B");
    const stops = await getJson<Page>(`/v1/reports/stops?${range}`, tokens.B);
    assert.deepEqual(stops.stops!.map((s) => s.vehicleId), ['vb1']);
    const summary = await getJson<{ vehicles: { vehicleId: string; trips: number }[] }>(`/v1/reports/summary?${range}`, tokens.A);
    assert.deepEqual(summary.vehicles.map((v) => v.vehicleId), ['va1', 'va2']);
    assert.equal(summary.vehicles[0].trips, 3, "va1's trip recorded for B is not A's");
    assert.equal((await getJson<{ count: number }>(`/v1/reports/summary?${range}&company=B`, tokens.A)).count, 0);
    const adminSummary = await getJson<{ vehicles: { vehicleId: string; trips: number }[] }>(`/v1/reports/summary?${range}`, tokens.admin);
    assert.deepEqual(adminSummary.vehicles.map((v) => [v.vehicleId, v.trips]), [['va1', 4], ['va2', 2], ['vb1', 1]]);
    const bTrack = await getJson<{ count: number; points: Record<string, number>[] }>(`/v1/vehicles/vb1/track?${range}`, tokens.B);
    assert.equal(bTrack.count, 50);
    assert.deepEqual(Object.keys(bTrack.points[0]), ['ts', 'lat', 'lon'], 'speed and course left out where not reported');
  });

  it('#10 the summary adds up the trips and stops that start in the period, and the overspeeds in it', async () => {
    const s = await getJson<{ vehicles: Record<string, number | string>[] }>(`/v1/reports/summary?${range}&vehicle=va1`, tokens.A);
    assert.deepEqual(s.vehicles, [{
      vehicleId: 'va1', trips: 3, stops: 2, distanceKm: 85, drivingMs: 120 * MIN, stoppedMs: 80 * MIN, idleMs: 180_000, maxSpeed: 100,
      overspeeds: 2, avgSpeed: 42.5,
    }]);
    const empty = await getJson<{ vehicles: Record<string, number | string>[] }>(`/v1/reports/summary?from=${TO}&to=${TO + DAY_MS}&vehicle=va2`, tokens.A);
    assert.deepEqual(empty.vehicles, [{ vehicleId: 'va2', trips: 0, stops: 0, distanceKm: 0, drivingMs: 0, stoppedMs: 0, idleMs: 0, maxSpeed: 0, overspeeds: 0, avgSpeed: 0 }]);
  });

  it('#10 a cursor walks every row exactly once, and rows added behind it do not shift the pages', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: Page = await getJson<Page>(`/v1/reports/trips?${range}&limit=2${cursor ? `&cursor=${cursor}` : ''}`, tokens.admin);
      seen.push(...page.trips!.map((t) => t.id));
      if (pages === 0) await store.upsertSegments([seg('va2', 'A', 'trip', 1, 2, 1, 10, 0)]); // before the cursor: not in this walk
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== null);
    const expected = SEGMENTS.filter((s) => s.kind === 'trip' && s.startTs >= FROM).sort((a, b) => a.startTs - b.startTs || (a.id < b.id ? -1 : 1)).map((s) => s.id);
    assert.deepEqual(seen, expected, 'every trip once, by start time');
    assert.equal(pages, Math.ceil(expected.length / 2));

    const events: string[] = [];
    cursor = null;
    do {
      const page: Page = await getJson<Page>(`/v1/vehicles/va1/events?${range}&limit=1${cursor ? `&cursor=${cursor}` : ''}`, tokens.A);
      events.push(...page.events!.map((e) => e.id));
      cursor = page.nextCursor;
    } while (cursor !== null);
    assert.deepEqual(events, EVENTS.filter((e) => e.vehicleId === 'va1' && e.ts >= FROM).sort((a, b) => a.ts - b.ts || (a.id < b.id ? -1 : 1)).map((e) => e.id));

    const ts: number[] = [];
    cursor = null;
    do {
      const page: { points: { ts: number }[]; nextCursor: string | null } = await getJson(`/v1/vehicles/va1/track?${range}&limit=100${cursor ? `&cursor=${cursor}` : ''}`, tokens.A);
      ts.push(...page.points.map((p) => p.ts));
      cursor = page.nextCursor;
    } while (cursor !== null);
    assert.deepEqual(ts, route().filter((r) => r.vehicleId === 'va1').map((r) => r.point.ts), 'every position once, oldest first');

    const summaryIds: string[] = [];
    cursor = null;
    do {
      const page: { vehicles: { vehicleId: string }[]; nextCursor: string | null } = await getJson(`/v1/reports/summary?${range}&limit=2${cursor ? `&cursor=${cursor}` : ''}`, tokens.admin);
      summaryIds.push(...page.vehicles.map((v) => v.vehicleId));
      cursor = page.nextCursor;
    } while (cursor !== null);
    assert.deepEqual(summaryIds, ['va1', 'va2', 'vb1']);
  });

  it('#10 a long track is read in day slices at once, and its pages still hold every position once in order', async () => {
    const rows: PositionRow[] = [];
    for (let k = 0; k < 25_000; k++) rows.push({ vehicleId: 'va2', point: { deviceId: 'da2', ts: T0 + k * 17_280, lat: 50 + k * 1e-6, lon: 10 } });
    await store.appendPositions(rows);
    const seen: number[] = [];
    const pages: number[] = [];
    let cursor: string | null = null;
    do {
      const page: { points: { ts: number }[]; rawCount: number; nextCursor: string | null } =
        await getJson(`/v1/vehicles/va2/track?from=${T0 - DAY_MS}&to=${T0 + 6 * DAY_MS}&limit=20000&format=json${cursor ? `&cursor=${cursor}` : ''}`, tokens.A);
      seen.push(...page.points.map((p) => p.ts));
      pages.push(page.rawCount);
      cursor = page.nextCursor;
    } while (cursor !== null);
    assert.deepEqual(pages, [20_000, 5000], 'the first page is cut at the limit across slices');
    assert.deepEqual(seen, rows.map((r) => r.point.ts), 'five days, every position once, oldest first');
  });

  it('#10 simplification keeps far fewer points, every dropped one within the tolerance of the kept line', async () => {
    const raw = route().filter((r) => r.vehicleId === 'va1').map((r) => [r.point.lat, r.point.lon] as [number, number]);
    const tolerance = 5;
    const t = await getJson<{ points: { ts: number; lat: number; lon: number }[]; rawCount: number; count: number }>(`/v1/vehicles/va1/track?${range}&simplify=${tolerance}`, tokens.A);
    assert.equal(t.rawCount, 720);
    assert.ok(t.count >= 10 && t.count < t.rawCount / 5, `a weave and a straight leg keep a fraction of the points, got ${t.count}`);
    const times = route().filter((r) => r.vehicleId === 'va1').map((r) => r.point.ts);
    assert.equal(t.points[0].ts, times[0]);
    assert.equal(t.points[t.count - 1].ts, times[times.length - 1]);
    let worst = 0;
    let k = 0;
    for (let i = 0; i < raw.length; i++) {
      while (k < t.count - 2 && times[i] > t.points[k + 1].ts) k++;
      const a = t.points[k];
      const b = t.points[k + 1];
      worst = Math.max(worst, distanceToSegmentM(raw[i], [a.lat, a.lon], [b.lat, b.lon]));
    }
    assert.ok(worst <= tolerance * 1.01, `worst deviation ${worst.toFixed(2)} m over a ${tolerance} m tolerance`);
    const corner = t.points.find((p) => p.ts === times[360]);
    assert.ok(corner, 'the corner of the route is kept');
  });

  it('#10 formats: JSON, GeoJSON, strict MessagePack and RFC 4180 CSV say the same', async () => {
    const path = `/v1/vehicles/va1/track?${range}&simplify=5`;
    const json = await getJson<{ points: { ts: number; lat: number; lon: number; speed: number }[]; count: number }>(path, tokens.A);
    const geoRes = await get(`${path}&format=geojson`, tokens.A);
    assert.equal(geoRes.headers.get('content-type'), 'application/geo+json');
    const geo = (await geoRes.json()) as { type: string; geometry: { type: string; coordinates: number[][] }; properties: { times: number[]; speeds: number[] } };
    assert.equal(geo.type, 'Feature');
    assert.equal(geo.geometry.type, 'LineString');
    assert.deepEqual(geo.geometry.coordinates, json.points.map((p) => [p.lon, p.lat]));
    assert.deepEqual(geo.properties.times, json.points.map((p) => p.ts));
    assert.deepEqual(geo.properties.speeds, json.points.map((p) => p.speed));

    const mpRes = await get(`${path}&format=msgpack`, tokens.A);
    assert.equal(mpRes.headers.get('content-type'), 'application/msgpack');
    const mp = decode(new Uint8Array(await mpRes.arrayBuffer())) as typeof json;
    assertNoExtensions(mp);
    assert.deepEqual(mp, json);

    const csvRes = await get(`/v1/reports/trips?${range}`, tokens.A, { accept: 'text/csv' });
    assert.equal(csvRes.headers.get('content-type'), 'text/csv; charset=utf-8');
    const rows = parseCsv(await csvRes.text());
    const trips = (await getJson<Page>(`/v1/reports/trips?${range}`, tokens.A)).trips!;
    assert.deepEqual(rows[0], ['id', 'kind', 'vehicleId', 'companyId', 'deviceId', 'start', 'end', 'durationMs', 'startLat', 'startLon', 'endLat', 'endLon',
      'distanceKm', 'maxSpeed', 'avgSpeed', 'idleMs', 'closed']);
    assert.deepEqual(rows.slice(1).map((r) => [r[0], new Date(r[5]).getTime(), Number(r[7]), Number(r[12]), Number(r[13])]),
      trips.map((t) => [t.id, t.startTs, t.endTs - t.startTs, t.distanceKm, t.maxSpeed]));

    const evCsv = parseCsv(await (await get(`/v1/vehicles/va1/events?${range}&type=overspeed,overspeed_start&format=csv`, tokens.A)).text());
    assert.equal(evCsv.length, 3, 'a header and the two overspeeds in the period');
    assert.deepEqual(JSON.parse(evCsv[1][7]), { speed: 99, note: 'a, "quoted" note' }, 'a field with commas and quotes survives');

    const sumCsv = parseCsv(await (await get(`/v1/reports/summary?${range}&vehicle=va1&format=csv`, tokens.A)).text());
    assert.deepEqual(sumCsv[1].slice(3).map(Number), [3, 2, 85, 120 * MIN, 80 * MIN, 180_000, 100, 42.5, 2]);
    const mpSum = decode(new Uint8Array(await (await get(`/v1/reports/summary?${range}&vehicle=va1&format=msgpack`, tokens.A)).arrayBuffer()));
    assertNoExtensions(mpSum);
    assert.equal((mpSum as { vehicles: { distanceKm: number }[] }).vehicles[0].distanceKm, 85);
  });

  it('#10 answered history requests are timed per route in /metrics', async () => {
    const text = await (await fetch(`${node.url}/metrics`)).text();
    for (const route of ['track', 'events', 'trips', 'stops', 'summary']) {
      const count = Number(new RegExp(`fleetline_history_request_seconds_count\\{[^}]*route="${route}"[^}]*\\} (\\d+)`).exec(text)?.[1] ?? 0);
      assert.ok(count > 0, `${route} observed`);
    }
  });

  it('#10 bad parameters answer 400 BAD_QUERY naming them', async () => {
    const cases: [string, RegExp][] = [
      [`/v1/vehicles/va1/track?from=${TO}&to=${FROM}`, /^to: from must be before to/],
      [`/v1/vehicles/va1/track?${range}&simplify=-1`, /^simplify:/],
      [`/v1/vehicles/va1/track?${range}&format=kml`, /^format:/],
      [`/v1/vehicles/va1/track?from=yesterday&to=${TO}`, /^from: must be epoch milliseconds or an ISO-8601/],
      [`/v1/reports/trips?${range}&limit=0`, /^limit:/],
      [`/v1/reports/trips?${range}&cursor=bm9wZQ`, /^cursor:/],
      [`/v1/reports/trips?${range}&colour=red`, /unknown query parameter colour/],
      [`/v1/vehicles/va1/events?${range}&type=over-speed`, /^type:/],
    ];
    for (const [path, message] of cases) {
      const res = await get(path, tokens.A);
      const body = (await res.json()) as { error: { code: string; message: string } };
      assert.equal(res.status, 400, path);
      assert.equal(body.error.code, 'BAD_QUERY', path);
      assert.match(body.error.message, message, path);
    }
    const page = await getJson<Page>(`/v1/reports/trips?${range}&limit=1`, tokens.A);
    const wrongRoute = await get(`/v1/reports/stops?${range}&cursor=${page.nextCursor}`, tokens.A);
    assert.equal(wrongRoute.status, 400, 'a trips cursor is not a stops cursor');
    const iso = await getJson<Page>(`/v1/reports/trips?from=${new Date(FROM).toISOString()}&to=${new Date(TO).toISOString()}`, tokens.A);
    const ms = await getJson<Page>(`/v1/reports/trips?${range}`, tokens.A);
    assert.ok(ms.count >= 5);
    assert.deepEqual(iso.trips, ms.trips, 'ISO-8601 times select the same period');
    assert.equal((await fetch(`${node.url}/v1/reports/trips?${range}`)).status, 401);
    const ingest = await get(`/v1/reports/trips?${range}`, await testToken({ role: 'ingest', companies: ['A'] }));
    assert.equal(ingest.status, 403, 'an ingest credential cannot read history');
  });
});

describe('#10 the embedded mode keeps no history', () => {
  let node: FleetlineNode;
  before(async () => { node = await startTestNode(); });
  after(async () => node?.close());

  it('#10 track, events and reports answer 501 HISTORY_UNAVAILABLE', async () => {
    const token = await testToken({ companies: ['A'] });
    for (const path of ['/v1/vehicles/va1/track', '/v1/vehicles/va1/events', '/v1/reports/trips', '/v1/reports/stops', '/v1/reports/summary']) {
      const res = await fetch(`${node.url}${path}?${range}`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 501, path);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'HISTORY_UNAVAILABLE', path);
    }
    assert.equal((await fetch(`${node.url}/v1/reports/trips?${range}`)).status, 401, 'without a token it is 401 first');
    assert.equal((await fetch(`${node.url}/v1/vehicles/va1`, { headers: { authorization: `Bearer ${token}` } })).status, 404, 'the vehicle view route is unchanged');
  });
});
