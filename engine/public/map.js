/*
 * Fleetline live map.
 *
 * One <canvas>, a basemap drawn procedurally (no tiles, no network besides the engine), Web
 * Mercator, pan/zoom, vehicles as arrows. The data comes through the client SDK
 * (@fleetline/client, served under /sdk/ and named by the import map in index.html), which keeps
 * the vehicles in scope current from /v1/stream (docs/protocol.md); the renderer applies its
 * changes once per animation frame and draws only when something changed or is still gliding.
 *
 * This entry module wires the parts together: live-stream.js (the SDK client and the
 * subscription), subscription-form.js (companies, groups, filters), vehicle-updates.js and
 * event-list.js (what the stream changes), map-renderer.js with basemap.js and vehicle-layer.js
 * (drawing), user-input.js and navigation.js (the view), side-panel.js.
 */

import { refreshLegend } from './company-legend.js';
import { client, currentToken, framesByType, sendSub, startStream } from './live-stream.js';
import { log } from './message-log.js';
import { startRenderer } from './map-renderer.js';
import { renderCounters } from './render-loop.js';
import { initialView } from './navigation.js';
import { el } from './page-elements.js';
import { bindPanelControls, startPanelRefresh } from './side-panel.js';
import { bindSubscriptionForm, loadChoices } from './subscription-form.js';
import { bindUserInput } from './user-input.js';
import { vehicles } from './vehicles.js';
import { resize, screenOf } from './viewport.js';

function onReady(c) {
  el.scope.textContent = Array.isArray(c.companies)
    ? `token grants: ${c.companies.join(', ') || 'nothing'}`
    : 'token grants: every vehicle (admin)';
  loadChoices(c, currentToken).catch((e) => log(`cannot list companies and groups: ${e.message}`, true));
}

function start() {
  window.fleetlineMapStarted = true;
  startRenderer();
  bindUserInput();
  bindPanelControls();
  bindSubscriptionForm(sendSub);
  startPanelRefresh();
  initialView();
  resize();
  refreshLegend();
  startStream({ onReady });
  // For the browser test, the benchmark and curious people: the client, the markers, the frame counts,
  // where a marker is drawn, the frames drawn.
  window.fleetline = { get client() { return client; }, vehicles, framesByType, screenOf, renderCounters };
}

start();
