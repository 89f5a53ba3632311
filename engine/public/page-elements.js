/* The elements of index.html the map script works with. */

export const $ = (id) => document.getElementById(id);
export const canvas = $('map');
export const tooltip = $('tooltip');
export const mapWrap = $('map-wrap');
export const el = {
  status: $('status'),
  statusText: $('status-text'),
  visible: $('st-visible'),
  total: $('st-total'),
  fps: $('st-fps'),
  ups: $('st-ups'),
  frames: $('st-frames'),
  latency: $('st-latency'),
  ping: $('st-ping'),
  seq: $('st-seq'),
  render: $('st-render'),
  follow: $('follow-bbox'),
  subDesc: $('sub-desc'),
  companies: $('f-companies'),
  groups: $('f-groups'),
  statusFilter: $('f-status'),
  alertsOnly: $('f-alerts'),
  token: $('token'),
  tokenSrc: $('token-src'),
  connect: $('connect'),
  legend: $('legend'),
  selection: $('selection'),
  selTable: $('sel-table'),
  selEvents: $('sel-events'),
  selClear: $('sel-clear'),
  log: $('log'),
  events: $('events'),
  evRate: $('st-events'),
  scope: $('scope'),
};
