/*
 * Fleetline live map.
 *
 * One <canvas>, a basemap drawn procedurally (no tiles, no network besides the engine), Web
 * Mercator, pan/zoom, vehicles as arrows. Data arrives over a binary WebSocket at /v1/stream,
 * one standard MessagePack map per frame (msgpackr's browser bundle, global `msgpackr`):
 *   server → client: {t:"ready", companies} · {t:"snap", seq, vehicles:[view…]}
 *                    {t:"d", seq, u:[{id, …changed}]} · {t:"gone", seq, ids:[…]} · {t:"ev", seq, e:[event…]}
 *                    {t:"err", code, msg} · {t:"pong", ts} · {t:"unsubbed", seq}
 *   client → server: {t:"sub", bbox?:[w,s,e,n], vehicles?, companies?} · {t:"unsub"} · {t:"ping"}
 * (docs/protocol.md has the whole protocol.)
 * Rendering happens in requestAnimationFrame, and only when something changed.
 *
 * This entry module wires the parts together: stream-client.js (the WebSocket), vehicle-updates.js
 * and event-list.js (what the frames change), map-renderer.js with basemap.js and
 * vehicle-layer.js (drawing), user-input.js and navigation.js (the view), side-panel.js.
 */

import { refreshLegend } from './company-legend.js';
import { applyEvents } from './event-list.js';
import { log } from './message-log.js';
import { startRenderer } from './map-renderer.js';
import { initialView } from './navigation.js';
import { el } from './page-elements.js';
import { bindPanelControls, startPanelRefresh } from './side-panel.js';
import { onPong, startStream } from './stream-client.js';
import { bindUserInput } from './user-input.js';
import { applyDelta, applyGone, applySnap } from './vehicle-updates.js';
import { resize } from './viewport.js';

function routeMessage(msg) {
  switch (msg.t) {
    case 'snap':
      applySnap(msg);
      break;
    case 'd':
      applyDelta(msg);
      break;
    case 'gone':
      applyGone(msg);
      break;
    case 'ev':
      applyEvents(msg);
      break;
    case 'ready':
      el.scope.textContent = Array.isArray(msg.companies)
        ? `token grants: ${msg.companies.join(', ') || 'nothing'}`
        : 'token grants: every vehicle (admin)';
      log(`authenticated (${Array.isArray(msg.companies) ? msg.companies.join(', ') : 'admin'})`);
      break;
    case 'err':
      log(`error ${msg.code ?? ''}: ${msg.msg ?? ''}`, true);
      break;
    case 'pong':
      onPong(msg);
      break;
    case 'unsubbed':
      break;
    default:
      log(`unknown frame type ${JSON.stringify(msg.t)}`, true);
  }
}

function start() {
  startRenderer();
  bindUserInput();
  bindPanelControls();
  startPanelRefresh();
  initialView();
  resize();
  refreshLegend();
  startStream(routeMessage);
}

if (typeof msgpackr === 'undefined' || typeof msgpackr.unpack !== 'function') {
  const t = document.getElementById('status-text');
  if (t) t.textContent = 'msgpackr bundle missing (vendor/msgpackr.js)';
} else {
  start();
}
