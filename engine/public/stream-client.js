/*
 * The binary WebSocket to /v1/stream: token (the panel's, else the demo token), connect and
 * reconnect with backoff, ping, the subscription, and decoding frames. Decoded messages go to
 * the handler given to startStream().
 */

import { stats } from './live-stats.js';
import { log, setStatus } from './message-log.js';
import { el } from './page-elements.js';
import { viewportBbox } from './viewport.js';

const BBOX_DEBOUNCE_MS = 300;
const PING_EVERY_MS = 15_000;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 15_000;
const CLOSE_CODES = {
  1000: 'normal closure',
  1001: 'going away',
  1006: 'connection lost',
  1009: 'frame too big',
  4001: 'no auth in time',
  4003: 'token refused',
  4401: 'token expired',
  4400: 'protocol error',
  4429: 'too many frames',
  4503: 'node shutting down',
};

// msgpackr is the global of vendor/msgpackr.js; map.js checks it is there before startStream().
let packr = null;
let unpackr = null;
let handleMessage = () => {};
let ws = null;
let wsGen = 0;
let backoff = BACKOFF_MIN_MS;
let retryTimer = 0;
let retryAt = 0;
let retryReason = '';
let openedAt = 0;
let pingTimer = 0;
let bboxTimer = 0;
let manualToken = '';
let lastSubKey = '';
let pingSentAt = 0;

/** Opens the stream; every decoded message is given to `onMessage`. */
export function startStream(onMessage) {
  packr = new msgpackr.Packr({ useRecords: false });
  // ts arrives as a MessagePack uint64, which msgpackr decodes to a BigInt unless told otherwise.
  unpackr = new msgpackr.Unpackr({ mapsAsObjects: true, int64AsType: 'number' });
  handleMessage = onMessage;
  connect();
}

function send(obj) {
  if (!ws || ws.readyState !== 1) return false;
  ws.send(packr.pack(obj));
  return true;
}

export function sendSub() {
  window.clearTimeout(bboxTimer);
  const sub = el.follow.checked ? { t: 'sub', bbox: viewportBbox() } : { t: 'sub' };
  const key = JSON.stringify(sub);
  if (key === lastSubKey) return;
  if (!send(sub)) return;
  lastSubKey = key;
  el.subDesc.textContent = sub.bbox
    ? `subscription: bbox [${sub.bbox.map((n) => n.toFixed(4)).join(', ')}]`
    : 'subscription: everything this token allows';
}

/** sendSub() once the view has rested for BBOX_DEBOUNCE_MS (follow bbox). */
export function sendSubSoon() {
  window.clearTimeout(bboxTimer);
  bboxTimer = window.setTimeout(sendSub, BBOX_DEBOUNCE_MS);
}

/** Drops the subscription while the tab is hidden; the next sendSub() subscribes afresh. */
export function pauseSubscription() {
  if (send({ t: 'unsub' })) {
    lastSubKey = '';
    el.subDesc.textContent = 'subscription: paused while the tab is hidden';
  }
}

/** The token typed into the panel; '' means: ask /v1/demo/token. */
export function setManualToken(token) {
  manualToken = token;
}

async function getToken() {
  if (manualToken) {
    el.tokenSrc.textContent = 'using the token from the field';
    return manualToken;
  }
  try {
    const res = await fetch('v1/demo/token', { cache: 'no-store', headers: { accept: 'application/json' } });
    if (res.ok) {
      const body = await res.json();
      if (body && typeof body.token === 'string' && body.token) {
        el.tokenSrc.textContent = 'using the demo token from /v1/demo/token (admin, demo mode)';
        return body.token;
      }
    }
    el.tokenSrc.textContent = `no demo token (HTTP ${res.status}); using the token field`;
  } catch (err) {
    el.tokenSrc.textContent = `no demo token (${err && err.message ? err.message : 'network error'}); using the token field`;
  }
  return el.token.value.trim();
}

function connect() {
  window.clearTimeout(retryTimer);
  retryAt = 0;
  const gen = ++wsGen;
  setStatus('connecting', 'connecting…');
  getToken().then((token) => {
    if (gen !== wsGen) return;
    if (!token) {
      scheduleReconnect('no token: paste one and press Connect');
      return;
    }
    const url = new window.URL('v1/stream', location.href);
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    url.search = `?token=${encodeURIComponent(token)}`;
    url.hash = '';
    let sock;
    try {
      sock = new WebSocket(url.href);
    } catch (err) {
      scheduleReconnect(`cannot open WebSocket: ${err && err.message}`);
      return;
    }
    sock.binaryType = 'arraybuffer';
    ws = sock;
    sock.onopen = () => {
      if (sock !== ws) return;
      openedAt = Date.now();
      lastSubKey = '';
      stats.lastSeq = null;
      setStatus('live', 'connected');
      log('connected');
      sendSub();
      startPing();
    };
    sock.onmessage = (ev) => {
      if (sock === ws) onFrame(ev.data);
    };
    sock.onerror = () => {
      /* a close event with the code follows */
    };
    sock.onclose = (ev) => {
      if (sock !== ws) return;
      ws = null;
      stopPing();
      if (openedAt && Date.now() - openedAt > 10_000) backoff = BACKOFF_MIN_MS;
      openedAt = 0;
      const what = CLOSE_CODES[ev.code] ? ` ${CLOSE_CODES[ev.code]}` : '';
      const why = `closed (code ${ev.code}${what}${ev.reason ? `: ${ev.reason}` : ''})`;
      log(why, ev.code !== 1000);
      // a node going away is routine: come back at once (to any node)
      // an expired token is routine too: the reconnect fetches a fresh one
      if (ev.code === 4503 || ev.code === 1001 || ev.code === 4401) backoff = BACKOFF_MIN_MS;
      scheduleReconnect(why);
    };
  });
}

function scheduleReconnect(why) {
  window.clearTimeout(retryTimer);
  const delay = Math.round(backoff * (0.8 + 0.4 * Math.random()));
  backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
  retryReason = why;
  retryAt = Date.now() + delay;
  showRetry();
  retryTimer = window.setTimeout(connect, delay);
}

export function showRetry() {
  if (!retryAt) return;
  const s = Math.max(0, (retryAt - Date.now()) / 1000);
  setStatus('closed', `${retryReason} — retry in ${s.toFixed(s < 10 ? 1 : 0)} s`);
}

export function reconnectNow() {
  const old = ws;
  ws = null;
  stopPing();
  if (old) old.close(1000, 'reconnect');
  backoff = BACKOFF_MIN_MS;
  connect();
}

function ping() {
  pingSentAt = performance.now();
  send({ t: 'ping' });
}
function startPing() {
  stopPing();
  ping();
  pingTimer = window.setInterval(ping, PING_EVERY_MS);
}
function stopPing() {
  window.clearInterval(pingTimer);
  pingTimer = 0;
}

function onFrame(data) {
  let msg;
  try {
    msg = typeof data === 'string' ? JSON.parse(data) : unpackr.unpack(new Uint8Array(data));
  } catch (err) {
    log(`undecodable frame: ${err && err.message}`, true);
    return;
  }
  if (!msg || typeof msg !== 'object') return;
  stats.framesInWindow++;
  if (typeof msg.seq === 'number') {
    // seq grows by one per snap/d/gone/ev/unsubbed frame of a connection: a jump means we missed frames
    if (stats.lastSeq !== null && msg.seq !== stats.lastSeq + 1) stats.seqGaps++;
    stats.lastSeq = msg.seq;
  }
  handleMessage(msg);
}

/** The round trip of {t:"ping"}, and the server clock's offset from the pong's ts. */
export function onPong(msg) {
  if (pingSentAt) {
    const now = performance.now();
    stats.lastRtt = now - pingSentAt;
    // NTP-style: the server read its clock about half a round trip ago
    if (typeof msg.ts === 'number') stats.clockSkew = msg.ts - (Date.now() - stats.lastRtt / 2);
    pingSentAt = 0;
  }
}
