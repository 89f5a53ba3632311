/*
 * The page's connection to /v1/stream, through the client SDK (@fleetline/client, served under
 * /sdk/): the token (the panel's, else the demo token), the subscription the panel and the
 * viewport describe, and the connection state in the panel. The SDK reconnects with backoff,
 * resumes its session and keeps the vehicles in scope; the renderer takes its changes once per
 * animation frame (vehicle-updates.js).
 */

import { FleetlineClient } from '@fleetline/client';
import { addEvent } from './event-list.js';
import { log, setStatus } from './message-log.js';
import { el } from './page-elements.js';
import { requestRender } from './render-loop.js';
import { describeSubscription, formSubscription } from './subscription-form.js';
import { clearVehicles } from './vehicle-updates.js';
import { view, viewportBbox } from './viewport.js';

const BBOX_DEBOUNCE_MS = 300;
const CLOSE_CODES = {
  1000: 'normal closure',
  1001: 'idle',
  1006: 'connection lost',
  1009: 'frame too big',
  1013: 'node still starting',
  4001: 'no auth in time',
  4003: 'token refused',
  4401: 'token expired',
  4408: 'read too slowly',
  4429: 'too many frames',
  4503: 'node shutting down',
};

let manualToken = '';
/** The token of the latest connection (the panel's reference-data requests use it too). */
export let currentToken = '';
let bboxTimer = 0;
let retryAt = 0;
let retryReason = '';
/** Frames received, by type (the panel and the browser test read them). */
export const framesByType = {};

/** The SDK client; made by startStream(). */
export let client = null;
let onReadyHandler = () => {};

/** The token typed into the panel; '' means: ask /v1/demo/token. */
export function setManualToken(token) {
  manualToken = token;
}

async function fetchToken() {
  if (manualToken) {
    el.tokenSrc.textContent = 'using the token from the field';
    currentToken = manualToken;
    return manualToken;
  }
  const res = await fetch('v1/demo/token', { cache: 'no-store', headers: { accept: 'application/json' } }).catch(() => null);
  if (res && res.ok) {
    const body = await res.json();
    if (body && typeof body.token === 'string' && body.token) {
      el.tokenSrc.textContent = 'using the demo token from /v1/demo/token (admin, demo mode)';
      currentToken = body.token;
      return body.token;
    }
  }
  const typed = el.token.value.trim();
  el.tokenSrc.textContent = `no demo token (${res ? `HTTP ${res.status}` : 'network error'}); using the token field`;
  if (!typed) throw new Error('no token: paste one and press Connect');
  currentToken = typed;
  return typed;
}

/** The subscription the panel and the viewport describe now. */
function currentSubscription() {
  const sub = formSubscription();
  if (el.follow.checked) return { ...sub, bbox: viewportBbox(), zoom: Math.round(view.zoom * 100) / 100 };
  return sub;
}

export function startStream({ onReady }) {
  onReadyHandler = onReady;
  client = new FleetlineClient({ url: new URL('.', location.href).href, token: fetchToken, subscription: currentSubscription() });
  client.on('state', (s) => {
    if (s.state === 'live') {
      retryAt = 0;
      setStatus('live', 'connected');
      log('connected');
      onReadyHandler(client);
    } else if (s.state === 'reconnecting') {
      const what = CLOSE_CODES[s.closeCode] ? ` ${CLOSE_CODES[s.closeCode]}` : '';
      retryReason = s.closeCode === undefined ? s.reason || 'not connected' : `closed (code ${s.closeCode}${what})`;
      if (s.closeCode !== undefined) log(retryReason, s.closeCode !== 1000);
      retryAt = s.retryInMs === undefined ? 0 : Date.now() + s.retryInMs;
      showRetry();
    } else if (s.state === 'closed') {
      setStatus('closed', `closed${s.closeCode ? ` (code ${s.closeCode})` : ''}`);
    } else {
      setStatus('connecting', `${s.state}…`);
    }
  });
  client.on('frame', (f) => {
    framesByType[f.t] = (framesByType[f.t] ?? 0) + 1;
    if (f.t === 'snap') log(`snapshot: ${f.vehicles.length} vehicles${f.partial ? ' (changed while away)' : ''} (seq ${f.seq})`);
  });
  client.on('update', requestRender);
  client.on('event', addEvent);
  client.on('error', (e) => log(`error ${e.code}: ${e.message}`, true));
  client.on('resume', (r) => log(`reconnected: ${r.outcome === 'continued' ? 'resumed where it left off' : r.outcome === 'snapshot' ? `fresh snapshot (${r.reason})` : `subscribed afresh (${r.reason})`}`));
  el.subDesc.textContent = describeSubscription(client.subscription);
  client.connect().catch((e) => log(e.message, true));
  return client;
}

/** Sends the subscription now (the SDK sends nothing when it did not change). */
export function sendSub() {
  window.clearTimeout(bboxTimer);
  if (!client) return;
  const sub = currentSubscription();
  client.subscribe(sub);
  el.subDesc.textContent = describeSubscription(sub);
}

/** sendSub() once the view has rested for BBOX_DEBOUNCE_MS (while dragging or zooming). */
export function sendSubSoon() {
  window.clearTimeout(bboxTimer);
  bboxTimer = window.setTimeout(sendSub, BBOX_DEBOUNCE_MS);
}

/** A hidden tab needs no updates: drop the subscription; sendSub() takes a fresh snapshot later. */
export function pauseSubscription() {
  if (!client) return;
  client.unsubscribe();
  el.subDesc.textContent = 'subscription: paused while the tab is hidden';
}

/** A new client (a new token typed in): the map starts from its snapshot. */
export function reconnectNow() {
  if (client) client.close();
  clearVehicles();
  startStream({ onReady: onReadyHandler });
}

export function showRetry() {
  if (!retryAt) return;
  const s = Math.max(0, (retryAt - Date.now()) / 1000);
  setStatus('closed', `${retryReason} — retry in ${s.toFixed(s < 10 ? 1 : 0)} s`);
}
