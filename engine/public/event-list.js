/* The panel's list of vehicle events: queued as they arrive, shown once a second. */

import { stats } from './live-stats.js';
import { el } from './page-elements.js';
import { vehicles } from './vehicles.js';

const MAX_EVENTS_SHOWN = 40;
const eventQueue = []; // newest last, rendered once a second

export function applyEvents(msg) {
  const list = Array.isArray(msg.e) ? msg.e : [];
  stats.eventsInWindow += list.length;
  for (const e of list) if (e && typeof e.type === 'string') eventQueue.push(e);
  if (eventQueue.length > MAX_EVENTS_SHOWN) eventQueue.splice(0, eventQueue.length - MAX_EVENTS_SHOWN);
}

/** Moves queued events into the list (once a second, however many arrive). */
export function renderEvents() {
  if (eventQueue.length === 0) return;
  for (const e of eventQueue) {
    const li = document.createElement('li');
    li.className = `ev-${e.type}`;
    const v = vehicles.get(e.vehicleId);
    const time = document.createElement('time');
    time.textContent = typeof e.ts === 'number' ? new Date(e.ts).toLocaleTimeString() : '';
    const type = document.createElement('b');
    type.textContent = e.type.replace(/_/g, ' ');
    const who = document.createElement('span');
    who.textContent = ` ${v && v.name ? v.name : e.vehicleId}`;
    let extra = '';
    if (e.data && typeof e.data === 'object') {
      extra = Object.entries(e.data)
        .slice(0, 3)
        .map(([k, val]) => `${k} ${typeof val === 'number' ? Math.round(val * 10) / 10 : val}`)
        .join(', ');
    }
    li.append(time, type, who);
    if (extra) {
      const x = document.createElement('span');
      x.className = 'muted';
      x.textContent = ` (${extra})`;
      li.append(x);
    }
    li.title = 'show on the map';
    li.dataset.vehicle = e.vehicleId;
    el.events.prepend(li);
  }
  eventQueue.length = 0;
  while (el.events.childElementCount > MAX_EVENTS_SHOWN) el.events.lastElementChild.remove();
}
