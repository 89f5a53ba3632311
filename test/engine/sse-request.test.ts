import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FleetlineError } from '../../actors/domain/errors.js';
import type { HttpStream } from '../../actors/ports/transport.js';
import { SseConnection } from '../../engine/sse-connection.js';
import { eventId, parseLastEventId } from '../../engine/sse-events.js';
import { parseSseRequest, resumeFrame } from '../../engine/sse-request.js';

const request = (query: string, headers: Record<string, string> = {}) =>
  parseSseRequest({ query: new URLSearchParams(query), header: (name) => headers[name] });

const refused = (query: string, code: string, headers: Record<string, string> = {}) =>
  assert.throws(() => request(query, headers), (e) => e instanceof FleetlineError && e.code === code, query);

describe('#9 SSE query string → the frames a WebSocket client would send', () => {
  it('#9 the selectors and filters become one sub frame; none is every vehicle the token grants', () => {
    assert.deepEqual(request('token=T').sub, { t: 'sub' });
    const r = request('token=T&vehicles=v1,v2,v1&companies=A&groups=g1,g2&bbox=13.3,52.4,13.5,52.6&zoom=11.5&status=moving,idle&alerts=true&fields=min');
    assert.equal(r.token, 'T');
    assert.deepEqual(r.sub, {
      t: 'sub', vehicles: ['v1', 'v2'], companies: ['A'], groups: ['g1', 'g2'], bbox: [13.3, 52.4, 13.5, 52.6], zoom: 11.5,
      filter: { status: ['moving', 'idle'], alerts: true }, fields: 'min',
    });
    assert.equal(r.resume, undefined);
  });

  it('#9 the token comes from Authorization: Bearer, or ?token=; none is UNAUTHORIZED', () => {
    assert.equal(request('', { authorization: 'Bearer abc' }).token, 'abc');
    refused('', 'UNAUTHORIZED');
    refused('token=', 'UNAUTHORIZED');
  });

  it('#9 malformed, unknown or repeated parameters are BAD_QUERY; a subscription the sub frame would refuse is BAD_SUBSCRIPTION', () => {
    refused('token=T&colour=red', 'BAD_QUERY');
    refused('token=T&vehicles=a&vehicles=b', 'BAD_QUERY');
    refused('token=T&bbox=1,2,3', 'BAD_QUERY');
    refused('token=T&zoom=1e3', 'BAD_QUERY');
    refused('token=T&alerts=yes', 'BAD_QUERY');
    refused('token=T&fields=some', 'BAD_QUERY');
    refused('token=T&zoom=30', 'BAD_SUBSCRIPTION');
    refused('token=T&status=flying', 'BAD_SUBSCRIPTION');
    refused(`token=T&vehicles=${'x'.repeat(65)}`, 'BAD_SUBSCRIPTION');
  });

  it('#9 Last-Event-ID (or ?lastEventId=) <session>:<epoch>:<seq> becomes {t:"resume", session, seq}', () => {
    const r = request('token=T&vehicles=v1', { 'last-event-id': 'c2Vzc2lvbi1pZA:3:42' });
    assert.deepEqual(r.resume, { session: 'c2Vzc2lvbi1pZA', epoch: 3, seq: 42 });
    assert.deepEqual(resumeFrame(r.resume), { t: 'resume', session: 'c2Vzc2lvbi1pZA', seq: 42 });
    assert.deepEqual(r.sub, { t: 'sub', vehicles: ['v1'] }, 'kept: sent when the session cannot be resumed');
    assert.deepEqual(request('token=T&lastEventId=s_-1:1:0', { 'last-event-id': 'other:1:1' }).resume, { session: 's_-1', epoch: 1, seq: 0 }, 'the query wins');
    assert.equal(request('token=T', { 'last-event-id': '' }).resume, undefined);
    for (const bad of ['garbage', 's:1', 's:0:5', 's:1:-1', 's:1:1.5', 'a b:1:1', ':1:1', `${'s'.repeat(129)}:1:1`]) {
      refused(`token=T&lastEventId=${encodeURIComponent(bad)}`, 'BAD_QUERY');
    }
  });

  it('#9 an event id and the Last-Event-ID parsed from it are the same position', () => {
    const p = { session: 'AbC-_9', epoch: 7, seq: 123456 };
    assert.deepEqual(parseLastEventId(eventId(p), 'Last-Event-ID'), p);
  });
});

/** Collects what a connection writes; the real transports are tested in sse-stream.test.ts. */
class MemoryStream implements HttpStream {
  readonly chunks: string[] = [];
  ended = false;
  readonly remoteAddress = '127.0.0.1';
  write(chunk: Uint8Array): boolean {
    this.chunks.push(Buffer.from(chunk).toString('utf8'));
    return true;
  }
  bufferedAmount(): number {
    return 0;
  }
  end(): void {
    this.ended = true;
  }
}

const connection = (resuming: boolean) => {
  const out = new MemoryStream();
  const sessions: string[] = [];
  let resubscribed = 0;
  const conn = new SseConnection(out, 60_000, resuming, { session: (id) => sessions.push(id), resubscribe: () => resubscribed++ });
  const send = (frame: Record<string, unknown>) => Buffer.from(conn.encode(frame)).toString('utf8');
  return { out, conn, sessions, send, resubscribed: () => resubscribed };
};

describe('#9 SSE events of a connection (the encoder injected into its subscriber actor)', () => {
  it('#9 one event per frame: event <t>, id <session>:<epoch>:<seq> on sequenced frames only, data the frame as JSON', () => {
    const { conn, send, sessions } = connection(false);
    assert.equal(send({ t: 'ready', companies: ['A'], expiresAt: 1, session: 'sess1', epoch: 2 }), 'event: ready\ndata: {"t":"ready","companies":["A"],"expiresAt":1,"session":"sess1","epoch":2}\n\n');
    assert.deepEqual(sessions, ['sess1']);
    assert.equal(send({ t: 'snap', seq: 1, vehicles: [] }), 'event: snap\nid: sess1:2:1\ndata: {"t":"snap","seq":1,"vehicles":[]}\n\n');
    assert.equal(send({ t: 'd', seq: 2, u: [{ id: 'v', name: 'line\nbreak' }] }), 'event: d\nid: sess1:2:2\ndata: {"t":"d","seq":2,"u":[{"id":"v","name":"line\\nbreak"}]}\n\n');
    assert.equal(send({ t: 'pong', ts: 5 }), 'event: pong\ndata: {"t":"pong","ts":5}\n\n');
    conn.released();
  });

  it('#9 a resumed session: case 1 keeps the numbering, case 2 takes the new epoch, case 3 the new session and resubscribes', () => {
    const c = connection(true);
    c.send({ t: 'ready', companies: null, expiresAt: 1, session: 'old', epoch: 1 });
    c.send({ t: 'resumed', session: 'old', epoch: 1, seq: 9, full: false });
    assert.match(c.send({ t: 'snap', seq: 10, partial: true, vehicles: [] }), /\nid: old:1:10\n/);
    assert.equal(c.resubscribed(), 0);
    c.send({ t: 'resumed', session: 'old', epoch: 2, full: true, reason: 'EPOCH_CHANGED' });
    assert.match(c.send({ t: 'snap', seq: 1, vehicles: [] }), /\nid: old:2:1\n/);
    c.conn.released();

    const lost = connection(true);
    lost.send({ t: 'ready', companies: null, expiresAt: 1, session: 'fresh', epoch: 1 });
    lost.send({ t: 'resumed', session: 'newer', epoch: 1, full: true, reason: 'UNKNOWN_SESSION' });
    assert.equal(lost.resubscribed(), 1, 'the request\'s sub is sent');
    assert.deepEqual(lost.sessions, ['fresh', 'newer']);
    assert.match(lost.send({ t: 'snap', seq: 1, vehicles: [] }), /\nid: newer:1:1\n/);
    lost.conn.released();
  });

  it('#9 a subscriber that refuses the resume frame (err) gets the sub instead, once', () => {
    const c = connection(true);
    c.send({ t: 'ready', companies: null, expiresAt: 1 });
    c.send({ t: 'err', code: 'BAD_FRAME', msg: 'unknown frame type "resume"' });
    c.send({ t: 'err', code: 'BAD_FRAME', msg: 'another' });
    assert.equal(c.resubscribed(), 1);
    c.conn.released();
  });

  it('#9 a subscriber that names no session: the stream names one of its own in ready, and its ids carry it', () => {
    const c = connection(false);
    const ready = c.send({ t: 'ready', companies: ['A'], expiresAt: 1 });
    const session = (JSON.parse(ready.split('data: ')[1]) as { session: string }).session;
    assert.match(session, /^[A-Za-z0-9_-]{22}$/);
    assert.deepEqual(c.sessions, [session]);
    assert.match(c.send({ t: 'gone', seq: 1, ids: ['x'] }), new RegExp(`\\nid: ${session}:1:1\\n`));
    c.conn.released();
  });

  it('#9 close writes a close event with the code, then ends the response; the stream opens with a comment', () => {
    const c = connection(false);
    c.conn.close(4408, 'SLOW_CLIENT');
    assert.deepEqual(c.out.chunks, [': fleetline\n\n', 'event: close\ndata: {"t":"close","code":4408,"reason":"SLOW_CLIENT"}\n\n']);
    assert.equal(c.out.ended, true);
    c.conn.close(4408, 'again');
    assert.equal(c.out.chunks.length, 2, 'once');
  });
});
