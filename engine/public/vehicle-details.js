/* The hovered vehicle's tooltip and the selected vehicle's table in the panel. */

import { colourOf } from './company-legend.js';
import { describeEvent, recentEventsOf } from './event-list.js';
import { esc, fmtAge, fmtNum } from './format.js';
import { canvas, el, tooltip } from './page-elements.js';
import { requestRender } from './render-loop.js';
import { vehicles } from './vehicles.js';
import { cssH, cssW, screenOf } from './viewport.js';

export let hoverId = null;
export let selectedId = null;
let tooltipDirty = false;

/** The hovered or selected vehicle changed: rebuild the tooltip and the table with the next frame. */
export function markDetailsDirty() {
  tooltipDirty = true;
}

/** The hovered vehicle left the subscription. */
export function dropHover() {
  hoverId = null;
}

/** Once per frame: rebuild the tooltip when its content changed, else keep it next to its vehicle. */
export function updateTooltip() {
  if (tooltipDirty) {
    tooltipDirty = false;
    refreshTooltip();
  } else positionTooltip();
}

function detailRows(v) {
  const now = Date.now();
  const rows = [
    ['id', v.id],
    ['name', v.name ?? '–'],
    ['plate', v.plate ?? '–'],
    ['company', v.company === null || v.company === undefined ? 'unbound (admin only)' : v.company],
    ['speed', fmtNum(v.speed, 1, ' km/h')],
    ['state', `${v.moving ? 'moving' : 'stopped'}${v.ignition === true ? ', ignition on' : v.ignition === false ? ', ignition off' : ''}`],
    ['course', fmtNum(v.course, 0, '°')],
    ['fuel', fmtNum(v.fuel, 1, ' L')],
    ['odometer', fmtNum(v.odometer, 1, ' km')],
    ['status', [v.status ?? '–', ...(v.alerts && v.alerts.length ? [`alerts: ${v.alerts.join(', ')}`] : [])].join(' · ')],
    ['position', typeof v.lat === 'number' ? `${v.lat.toFixed(5)}, ${v.lon.toFixed(5)}` : '–'],
    ['ts', typeof v.ts === 'number' ? `${new Date(v.ts).toLocaleTimeString()} (${fmtAge(now - v.ts)} ago)` : '–'],
  ];
  return rows;
}

export function refreshTooltip() {
  const v = hoverId === null ? undefined : vehicles.get(hoverId);
  if (!v) {
    tooltip.hidden = true;
    canvas.classList.remove('over-vehicle');
  } else {
    const swatch = `<span style="display:inline-block;width:9px;height:9px;border-radius:2px;margin-right:5px;background:${colourOf(v.ci)}"></span>`;
    const rows = detailRows(v)
      .filter(([k]) => k !== 'position' && k !== 'name')
      .map(([k, val]) => `<tr><td class="k">${esc(k)}</td><td>${esc(val)}</td></tr>`)
      .join('');
    tooltip.innerHTML = `${swatch}<b>${esc(v.name ?? v.id)}</b><table>${rows}</table>`;
    tooltip.hidden = false;
    positionTooltip();
  }
  refreshSelection();
}

function positionTooltip() {
  if (tooltip.hidden || hoverId === null) return;
  const v = vehicles.get(hoverId);
  if (!v || !(v.px === v.px)) return;
  const p = screenOf(v);
  const w = tooltip.offsetWidth;
  const h = tooltip.offsetHeight;
  let left = p.x + 14;
  let top = p.y + 14;
  if (left + w > cssW - 4) left = p.x - w - 14;
  if (top + h > cssH - 4) top = p.y - h - 14;
  tooltip.style.left = `${Math.max(4, left)}px`;
  tooltip.style.top = `${Math.max(4, top)}px`;
}

function refreshSelection() {
  if (selectedId === null) {
    el.selection.hidden = true;
    return;
  }
  el.selection.hidden = false;
  const v = vehicles.get(selectedId);
  if (!v) {
    el.selTable.innerHTML = `<tr><td>${esc(selectedId)} is not in the current subscription</td></tr>`;
    el.selEvents.textContent = '';
    return;
  }
  el.selTable.innerHTML = detailRows(v)
    .map(([k, val]) => `<tr><th>${esc(k)}</th><td>${esc(val)}</td></tr>`)
    .join('');
  const events = recentEventsOf(selectedId);
  el.selEvents.innerHTML = events.length === 0
    ? '<li class="muted">no events since the page opened</li>'
    : events
        .map((e) => {
          const d = describeEvent(e);
          return `<li><time>${esc(new Date(e.ts).toLocaleTimeString())}</time><b>${esc(d.type)}</b>${d.extra ? ` <span class="muted">(${esc(d.extra)})</span>` : ''}</li>`;
        })
        .join('');
}

export function setHover(v) {
  const id = v ? v.id : null;
  canvas.classList.toggle('over-vehicle', id !== null);
  if (id === hoverId) return;
  hoverId = id;
  tooltipDirty = true;
  requestRender();
}

export function select(id) {
  selectedId = id;
  refreshSelection();
  requestRender();
}
