/*
 * Vehicle events: the panel's list (queued as they arrive, shown once a second) and the recent
 * events of each vehicle, for the selected vehicle's details.
 */

import { el } from './page-elements.js';
import { vehicles } from './vehicles.js';

const MAX_EVENTS_SHOWN = 40;
const PER_VEHICLE = 8;
const VEHICLES_REMEMBERED = 5000;
const eventQueue = []; // newest last, rendered once a second
/** vehicleId → its latest events, newest first (the vehicles heard from last are kept). */
const byVehicle = new Map();

export function addEvent(e) {
  if (!e || typeof e.type !== 'string') return;
  eventQueue.push(e);
  if (eventQueue.length > MAX_EVENTS_SHOWN) eventQueue.shift();
  let list = byVehicle.get(e.vehicleId);
  if (list) byVehicle.delete(e.vehicleId); // re-insert: Map order is recency
  else list = [];
  list.unshift(e);
  if (list.length > PER_VEHICLE) list.length = PER_VEHICLE;
  byVehicle.set(e.vehicleId, list);
  if (byVehicle.size > VEHICLES_REMEMBERED) byVehicle.delete(byVehicle.keys().next().value);
}

export function recentEventsOf(vehicleId) {
  return byVehicle.get(vehicleId) ?? [];
}

export function describeEvent(e) {
  let extra = '';
  if (e.data && typeof e.data === 'object') {
    extra = Object.entries(e.data)
      .slice(0, 3)
      .map(([k, val]) => `${k} ${typeof val === 'number' ? Math.round(val * 10) / 10 : val}`)
      .join(', ');
  }
  return { type: e.type.replace(/_/g, ' '), extra };
}

/** Moves queued events into the list (once a second, however many arrive). */
export function renderEvents() {
  if (eventQueue.length === 0) return;
  for (const e of eventQueue) {
    const li = document.createElement('li');
    li.className = `ev-${e.type}`;
    const v = vehicles.get(e.vehicleId);
    const { type, extra } = describeEvent(e);
    const time = document.createElement('time');
    time.textContent = typeof e.ts === 'number' ? new Date(e.ts).toLocaleTimeString() : '';
    const b = document.createElement('b');
    b.textContent = type;
    const who = document.createElement('span');
    who.textContent = ` ${v && v.name ? v.name : e.vehicleId}`;
    li.append(time, b, who);
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
