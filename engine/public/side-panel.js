/* The panel's controls (follow bbox, token, Connect) and its once-a-second refresh. */

import { refreshLegend } from './company-legend.js';
import { renderEvents } from './event-list.js';
import { fmtMs } from './format.js';
import { stats } from './live-stats.js';
import { log } from './message-log.js';
import { el } from './page-elements.js';
import { renderMs, requestRender } from './render-loop.js';
import { pauseSubscription, reconnectNow, sendSub, setManualToken, showRetry } from './stream-client.js';
import { hoverId, refreshTooltip, selectedId } from './vehicle-details.js';
import { visibleCount } from './vehicle-layer.js';
import { vehicles } from './vehicles.js';

const TOKEN_KEY = 'fleetline.token';
const FOLLOW_KEY = 'fleetline.followBbox';

let secondsTicked = 0;

export function bindPanelControls() {
  el.follow.checked = localStorage.getItem(FOLLOW_KEY) === '1';
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
  // once a second: counters, ages, legend
  window.setInterval(() => {
    secondsTicked++;
    el.fps.textContent = String(stats.framesInWindow);
    el.ups.textContent = String(stats.updatesInWindow);
    stats.framesInWindow = 0;
    stats.updatesInWindow = 0;
    el.total.textContent = String(vehicles.size);
    el.visible.textContent = String(visibleCount);
    el.latency.textContent = stats.lastLatency === null ? '–' : `${fmtMs(stats.lastLatency)} (avg ${fmtMs(stats.avgLatency)})`;
    el.ping.textContent =
      stats.lastRtt === null ? '–' : `${fmtMs(stats.lastRtt)}${stats.clockSkew === null ? '' : ` · server clock ${stats.clockSkew >= 0 ? '+' : ''}${fmtMs(stats.clockSkew)}`}`;
    el.seq.textContent = stats.lastSeq === null ? '–' : `${stats.lastSeq}${stats.seqGaps ? ` (${stats.seqGaps} gaps)` : ''}`;
    el.evRate.textContent = String(stats.eventsInWindow);
    stats.eventsInWindow = 0;
    renderEvents();
    el.render.textContent = renderMs ? `${renderMs.toFixed(1)} ms / frame` : '–';
    refreshLegend();
    if (hoverId !== null || selectedId !== null) refreshTooltip(); // ages move with time
    if (secondsTicked % 10 === 0 && vehicles.size > 0) requestRender(); // so does staleness
    showRetry();
  }, 1000);
}
