/* Company colours and the legend that names them, with each company's vehicle counts. */

import { el } from './page-elements.js';
import { vehicles } from './vehicles.js';

/** Company colours: the demo companies get fixed ones, others are assigned in order of appearance. */
export const PALETTE = ['#2f6fd6', '#e8590c', '#2b8a3e', '#ae3ec9', '#c2255c', '#0c8599', '#74b816', '#f59f00', '#5f3dc4', '#d9480f'];
const FIXED_COLOURS = { acme: 0, bolt: 1, city: 2 };
const UNBOUND_COLOUR = '#7b848c';

const companyColour = new Map(); // company id → palette index
let nextColour = 3;
let legendDirty = true;

export function colourIndex(company) {
  if (company === null || company === undefined) return PALETTE.length; // unbound: grey
  let ci = companyColour.get(company);
  if (ci === undefined) {
    ci = Object.prototype.hasOwnProperty.call(FIXED_COLOURS, company) ? FIXED_COLOURS[company] : nextColour++ % PALETTE.length;
    companyColour.set(company, ci);
    legendDirty = true;
  }
  return ci;
}
export function colourOf(ci) {
  return ci >= PALETTE.length ? UNBOUND_COLOUR : PALETTE[ci];
}

/** A new vehicle set (snapshot): rebuild the legend's rows at the next refresh. */
export function markLegendDirty() {
  legendDirty = true;
}

const legendItems = new Map(); // company id (null: unbound) → count element

export function refreshLegend() {
  const counts = new Map();
  for (const v of vehicles.values()) {
    const key = v.company ?? null;
    let c = counts.get(key);
    if (!c) counts.set(key, (c = { all: 0, moving: 0 }));
    c.all++;
    if (v.moving) c.moving++;
  }
  if (legendDirty) {
    legendDirty = false;
    el.legend.textContent = '';
    legendItems.clear();
    const keys = [...counts.keys()].sort((a, b) => (a === null ? 1 : b === null ? -1 : a < b ? -1 : a > b ? 1 : 0));
    for (const key of keys) {
      const li = document.createElement('li');
      const sw = document.createElement('span');
      sw.className = 'sw';
      sw.style.background = colourOf(colourIndex(key));
      const name = document.createElement('span');
      name.textContent = key === null ? 'unbound devices' : key;
      const n = document.createElement('span');
      n.className = 'n';
      li.append(sw, name, n);
      el.legend.append(li);
      legendItems.set(key, n);
    }
    if (keys.length === 0) {
      const li = document.createElement('li');
      li.className = 'muted';
      li.textContent = 'no vehicles';
      el.legend.append(li);
    }
  }
  for (const [key, c] of counts) {
    const n = legendItems.get(key);
    if (n) n.textContent = `${c.moving} moving / ${c.all}`;
    else legendDirty = true;
  }
  if (legendItems.size !== counts.size) legendDirty = true;
}
