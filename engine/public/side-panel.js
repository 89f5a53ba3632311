/* The panel's controls (follow bbox, token, Connect) and its once-a-second refresh. */

import { refreshLegend } from './company-legend.js';
import { renderEvents } from './event-list.js';
import { fmtMs } from './format.js';
import { log } from './message-log.js';
import { el } from './page-elements.js';
import { renderMs, requestRender } from './render-loop.js';
import { client, framesByType, pauseSubscription, reconnectNow, sendSub, setManualToken, showRetry } from './live-stream.js';
import { hoverId, refreshTooltip, selectedId } from './vehicle-details.js';
import { visibleCount } from './vehicle-layer.js';
import { vehicles } from './vehicles.js';

const TOKEN_KEY = 'fleetline.token';
const FOLLOW_KEY = 'fleetline.followBbox';

let secondsTicked = 0;

export function bindPanelControls() {
  // The bbox follows the view unless the user turned it off.
  el.follow.checked = localStorage.getItem(FOLLOW_KEY) !== '0';
  el.follow.addEventListener('change', () => {
    localStorage.setItem(FOLLOW_KEY, el.follow.checked ? '1' : '0');
    sendSub();
  });

  // A hidden tab needs no updates: drop the subscription, take a fresh snapshot when visible again.
  document.addEventListener('visibilitychange', () => {
    if (document.hidden) pauseSubscription();
    else sendSub();
  });

  el.token.value = localStorage.getItem(TOKEN_KEY) || '';
  setManualToken('');
  el.connect.addEventListener('click', () => {
    const manualToken = el.token.value.trim();
    setManualToken(manualToken);
    if (manualToken) localStorage.setItem(TOKEN_KEY, manualToken);
    else localStorage.removeItem(TOKEN_KEY);
    log(manualToken ? 'connecting with the token from the field' : 'connecting with the demo token');
    reconnectNow();
  });
  el.token.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') el.connect.click();
  });
}

export function startPanelRefresh() {
  // once a second: the SDK's counters, ages, legend
  window.setInterval(() => {
    secondsTicked++;
    if (client) {
      const s = client.stats;
      el.fps.textContent = s.framesPerSecond.toFixed(0);
      el.ups.textContent = s.updatesPerSecond.toFixed(0);
      el.evRate.textContent = s.eventsPerSecond.toFixed(1);
      el.frames.textContent = `${s.framesReceived} (${Object.entries(framesByType).map(([t, n]) => `${t} ${n}`).join(', ')})`;
      el.latency.textContent = s.latencyMs === null ? '–' : fmtMs(s.latencyMs);
      el.ping.textContent =
        s.rttMs === null ? '–' : `${fmtMs(s.rttMs)}${s.clockOffsetMs === null ? '' : ` · server clock ${s.clockOffsetMs >= 0 ? '+' : ''}${fmtMs(s.clockOffsetMs)}`}`;
      el.seq.textContent = s.lastSeq === 0 ? '–' : `${s.lastSeq}${s.seqGaps ? ` (${s.seqGaps} gaps)` : ''}${s.reconnects ? ` · ${s.reconnects} reconnects` : ''}`;
    }
    el.total.textContent = String(vehicles.size);
    el.visible.textContent = String(visibleCount);
    renderEvents();
    el.render.textContent = renderMs ? `${renderMs.toFixed(1)} ms / frame` : '–';
    refreshLegend();
    if (hoverId !== null || selectedId !== null) refreshTooltip(); // ages move with time
    if (secondsTicked % 10 === 0 && vehicles.size > 0) requestRender(); // so does staleness
    showRetry();
  }, 1000);
}
