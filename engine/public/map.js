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
 */
(function () {
  'use strict';

  if (typeof msgpackr === 'undefined' || typeof msgpackr.unpack !== 'function') {
    const t = document.getElementById('status-text');
    if (t) t.textContent = 'msgpackr bundle missing (vendor/msgpackr.js)';
    return;
  }

  // ------------------------------------------------------------------ constants

  const TILE = 256;
  const MIN_ZOOM = 2;
  const MAX_ZOOM = 19;
  const MAX_LAT = 85.05112878;
  const DEFAULT_VIEW = { lat: 52.52, lon: 13.405, zoom: 11 };
  /** Company colours: the demo companies get fixed ones, others are assigned in order of appearance. */
  const PALETTE = ['#2f6fd6', '#e8590c', '#2b8a3e', '#ae3ec9', '#c2255c', '#0c8599', '#74b816', '#f59f00', '#5f3dc4', '#d9480f'];
  const FIXED_COLOURS = { acme: 0, bolt: 1, city: 2 };
  const UNBOUND_COLOUR = '#7b848c';
  const STALE_MS = 5 * 60_000;
  const BBOX_DEBOUNCE_MS = 300;
  const PING_EVERY_MS = 15_000;
  const BACKOFF_MIN_MS = 500;
  const BACKOFF_MAX_MS = 15_000;
  const MAX_EVENTS_SHOWN = 40;
  const CLOSE_CODES = {
    1000: 'normal closure',
    1001: 'going away',
    1006: 'connection lost',
    1009: 'frame too big',
    4001: 'no auth in time',
    4003: 'token refused',
    4400: 'protocol error',
    4429: 'too many frames',
    4503: 'node shutting down',
  };
  const TOKEN_KEY = 'fleetline.token';
  const FOLLOW_KEY = 'fleetline.followBbox';

  // marker kinds; a stale vehicle (no point for STALE_MS) uses kind + STALE, drawn first and faded
  const K_PARKED = 0; // stopped, ignition off
  const K_STOPPED = 1; // stopped, ignition on or unknown
  const K_MOVING = 2;
  const STALE = 3;
  const KINDS = 6;
  const DRAW_ORDER = [K_PARKED + STALE, K_STOPPED + STALE, K_MOVING + STALE, K_PARKED, K_STOPPED, K_MOVING];

  // ------------------------------------------------------------------ DOM

  const $ = (id) => document.getElementById(id);
  const canvas = $('map');
  const ctx = canvas.getContext('2d', { alpha: false });
  const tooltip = $('tooltip');
  const mapWrap = $('map-wrap');
  const el = {
    status: $('status'),
    statusText: $('status-text'),
    visible: $('st-visible'),
    total: $('st-total'),
    fps: $('st-fps'),
    ups: $('st-ups'),
    latency: $('st-latency'),
    ping: $('st-ping'),
    seq: $('st-seq'),
    render: $('st-render'),
    follow: $('follow-bbox'),
    subDesc: $('sub-desc'),
    token: $('token'),
    tokenSrc: $('token-src'),
    connect: $('connect'),
    legend: $('legend'),
    selection: $('selection'),
    selTable: $('sel-table'),
    selClear: $('sel-clear'),
    log: $('log'),
    events: $('events'),
    evRate: $('st-events'),
    scope: $('scope'),
  };

  // ------------------------------------------------------------------ state

  /** id → vehicle: the server's view fields plus mx/my (Mercator 0..1) and ci (colour index). */
  const vehicles = new Map();
  /** Map centre in Mercator units (0..1) and zoom. */
  const view = { cx: 0, cy: 0, zoom: DEFAULT_VIEW.zoom };
  let cssW = 0;
  let cssH = 0;
  let dpr = 1;
  let userMoved = false;
  let fitDone = false;

  const companyColour = new Map(); // company id → palette index
  let nextColour = 3;
  let legendDirty = true;

  let hoverId = null;
  let selectedId = null;
  let tooltipDirty = false;
  let pointer = null; // {x, y} in CSS px over the canvas, while the pointer is over it

  // hit-test arrays filled by draw()
  let hitN = 0;
  let hitX = new Float32Array(1024);
  let hitY = new Float32Array(1024);
  const hitV = [];
  let markerSize = 5;
  let visibleCount = 0;

  // render scheduling
  let dirty = false;
  let rafPending = false;
  let renderMs = 0;

  // stats
  let framesInWindow = 0;
  let updatesInWindow = 0;
  let lastSeq = null;
  let seqGaps = 0;
  let eventsInWindow = 0;
  const eventQueue = []; // newest last, rendered once a second
  let clockSkew = null; // server clock − local clock (ms), from pong
  let lastLatency = null;
  let avgLatency = null;
  let pingSentAt = 0;
  let lastRtt = null;
  let secondsTicked = 0;

  // connection
  const packr = new msgpackr.Packr({ useRecords: false });
  let ws = null;
  let wsGen = 0;
  let backoff = BACKOFF_MIN_MS;
  let retryTimer = 0;
  let retryAt = 0;
  let retryReason = '';
  let openedAt = 0;
  let pingTimer = 0;
  let bboxTimer = 0;
  let manualToken = '';
  let lastSubKey = '';

  // ------------------------------------------------------------------ projection

  function clamp(v, lo, hi) {
    return v < lo ? lo : v > hi ? hi : v;
  }
  function mercX(lon) {
    return (lon + 180) / 360;
  }
  function mercY(lat) {
    const r = (clamp(lat, -MAX_LAT, MAX_LAT) * Math.PI) / 180;
    return (1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2;
  }
  function lonOf(mx) {
    return mx * 360 - 180;
  }
  function latOf(my) {
    return (Math.atan(Math.sinh(Math.PI * (1 - 2 * my))) * 180) / Math.PI;
  }
  function worldPx() {
    return TILE * Math.pow(2, view.zoom);
  }
  function setCenter(lat, lon) {
    view.cx = mercX(clamp(lon, -180, 180));
    view.cy = mercY(lat);
  }
  function clampView() {
    view.zoom = clamp(view.zoom, MIN_ZOOM, MAX_ZOOM);
    view.cx = clamp(view.cx, 0, 1);
    view.cy = clamp(view.cy, 0, 1);
  }

  /** The viewport as [west, south, east, north], clamped to valid coordinates. */
  function viewportBbox() {
    const S = worldPx();
    const w = lonOf(clamp(view.cx - cssW / 2 / S, 0, 1));
    const e = lonOf(clamp(view.cx + cssW / 2 / S, 0, 1));
    const n = latOf(clamp(view.cy - cssH / 2 / S, 0, 1));
    const s = latOf(clamp(view.cy + cssH / 2 / S, 0, 1));
    const r = (v) => Math.round(v * 1e6) / 1e6;
    return [r(w), r(s), r(e), r(n)];
  }

  // ------------------------------------------------------------------ formatting

  function esc(s) {
    return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
  }
  function fmtAge(ms) {
    if (!Number.isFinite(ms)) return '–';
    if (ms < 0) return `${(-ms / 1000).toFixed(1)} s in the future`;
    if (ms < 1000) return '<1 s';
    const s = Math.round(ms / 1000);
    if (s < 60) return `${s} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
    return `${Math.floor(s / 86400)} d`;
  }
  function fmtDeg(v, pos, neg, decimals) {
    return `${Math.abs(v).toFixed(decimals)}°${v >= 0 ? pos : neg}`;
  }
  function fmtNum(v, digits, unit) {
    return typeof v === 'number' && Number.isFinite(v) ? `${v.toFixed(digits)}${unit}` : '–';
  }
  function fmtMs(v) {
    if (v === null) return '–';
    return Math.abs(v) >= 10_000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`;
  }

  // ------------------------------------------------------------------ log and status

  function log(text, isError) {
    const li = document.createElement('li');
    if (isError) li.className = 'err';
    const time = document.createElement('time');
    time.textContent = new Date().toLocaleTimeString();
    li.append(time, document.createTextNode(text));
    el.log.prepend(li);
    while (el.log.childElementCount > 40) el.log.lastElementChild.remove();
    if (isError) console.warn('[fleetline]', text);
  }

  function setStatus(kind, text) {
    el.status.className = `status ${kind}`;
    mapWrap.classList.toggle('offline', kind !== 'live');
    el.statusText.textContent = text;
  }

  // ------------------------------------------------------------------ vehicles

  function colourIndex(company) {
    if (company === null || company === undefined) return PALETTE.length; // unbound: grey
    let ci = companyColour.get(company);
    if (ci === undefined) {
      ci = Object.prototype.hasOwnProperty.call(FIXED_COLOURS, company) ? FIXED_COLOURS[company] : nextColour++ % PALETTE.length;
      companyColour.set(company, ci);
      legendDirty = true;
    }
    return ci;
  }
  function colourOf(ci) {
    return ci >= PALETTE.length ? UNBOUND_COLOUR : PALETTE[ci];
  }

  function project(v) {
    if (typeof v.lat === 'number' && typeof v.lon === 'number' && Number.isFinite(v.lat) && Number.isFinite(v.lon)) {
      v.mx = mercX(clamp(v.lon, -180, 180));
      v.my = mercY(v.lat);
    } else {
      v.mx = NaN;
      v.my = NaN;
    }
  }

  function addVehicle(src) {
    const v = Object.assign({}, src);
    v.ci = colourIndex(v.company);
    project(v);
    vehicles.set(v.id, v);
    return v;
  }

  function applySnap(msg) {
    const list = Array.isArray(msg.vehicles) ? msg.vehicles : [];
    vehicles.clear();
    for (const src of list) if (src && typeof src.id === 'string') addVehicle(src);
    log(`snapshot: ${vehicles.size} vehicles${msg.seq !== undefined ? ` (seq ${msg.seq})` : ''}`);
    if (!fitDone && !userMoved && vehicles.size > 0) {
      fitDone = true;
      fitAll();
    }
    tooltipDirty = true;
    legendDirty = true;
    requestRender();
  }

  function applyDelta(msg) {
    const u = Array.isArray(msg.u) ? msg.u : [];
    let maxTs = -Infinity;
    for (const d of u) {
      if (!d || typeof d.id !== 'string') continue;
      if (typeof d.ts === 'number' && d.ts > maxTs) maxTs = d.ts;
      const v = vehicles.get(d.id);
      if (v === undefined) {
        addVehicle(d); // a delta for an unknown id carries the full view
        continue;
      }
      let moved = false;
      for (const k in d) {
        if (k === 'lat' || k === 'lon') moved = true;
        else if (k === 'company') {
          v.ci = colourIndex(d.company);
        }
        v[k] = d[k];
      }
      if (moved) project(v);
      if (d.id === hoverId || d.id === selectedId) tooltipDirty = true;
    }
    updatesInWindow += u.length;
    if (maxTs > 0) {
      lastLatency = Date.now() - maxTs;
      avgLatency = avgLatency === null ? lastLatency : avgLatency * 0.9 + lastLatency * 0.1;
    }
    if (u.length > 0) requestRender();
  }

  function applyGone(msg) {
    const ids = Array.isArray(msg.ids) ? msg.ids : [];
    for (const id of ids) {
      vehicles.delete(id);
      if (id === hoverId) hoverId = null;
    }
    updatesInWindow += ids.length;
    if (ids.length > 0) {
      tooltipDirty = true;
      requestRender();
    }
  }

  function applyEvents(msg) {
    const list = Array.isArray(msg.e) ? msg.e : [];
    eventsInWindow += list.length;
    for (const e of list) if (e && typeof e.type === 'string') eventQueue.push(e);
    if (eventQueue.length > MAX_EVENTS_SHOWN) eventQueue.splice(0, eventQueue.length - MAX_EVENTS_SHOWN);
  }

  /** Moves queued events into the list (once a second, however many arrive). */
  function renderEvents() {
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

  // ------------------------------------------------------------------ drawing

  function requestRender() {
    dirty = true;
    if (!rafPending) {
      rafPending = true;
      requestAnimationFrame(onAnimationFrame);
    }
  }

  function onAnimationFrame() {
    rafPending = false;
    if (!dirty) return;
    dirty = false;
    const t0 = performance.now();
    draw();
    const dt = performance.now() - t0;
    renderMs = renderMs === 0 ? dt : renderMs * 0.8 + dt * 0.2;
  }

  function resize() {
    const r = canvas.getBoundingClientRect();
    cssW = Math.max(1, r.width);
    cssH = Math.max(1, r.height);
    dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(cssW * dpr);
    canvas.height = Math.round(cssH * dpr);
    requestRender();
  }

  function draw() {
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    drawBasemap();
    drawVehicles();
    drawHighlights();
    drawScaleBar();
    if (tooltipDirty) {
      tooltipDirty = false;
      refreshTooltip();
    } else positionTooltip();
  }

  const GRID_STEPS = [45, 30, 20, 10, 5, 2, 1, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001, 0.0005, 0.0002, 0.0001, 0.00005];

  function gridStep(degPerPx, targetPx) {
    const want = degPerPx * targetPx;
    let step = GRID_STEPS[0];
    for (const s of GRID_STEPS) if (s >= want) step = s;
    return step;
  }
  function minorOf(step) {
    const mant = step / Math.pow(10, Math.floor(Math.log10(step) + 1e-9));
    return step / (Math.round(mant) === 2 ? 4 : 5);
  }
  function decimalsOf(step) {
    return step >= 1 ? 0 : Math.ceil(-Math.log10(step) - 1e-9);
  }

  function drawBasemap() {
    const S = worldPx();
    const hw = cssW / 2;
    const hh = cssH / 2;
    const x = (mx) => (mx - view.cx) * S + hw;
    const y = (my) => (my - view.cy) * S + hh;

    // land / outside the Mercator world
    ctx.fillStyle = '#dde2e6';
    ctx.fillRect(0, 0, cssW, cssH);
    const x0 = Math.max(0, x(0));
    const x1 = Math.min(cssW, x(1));
    const y0 = Math.max(0, y(0));
    const y1 = Math.min(cssH, y(1));
    ctx.fillStyle = '#f3f1ec';
    ctx.fillRect(x0, y0, x1 - x0, y1 - y0);

    const west = lonOf(clamp(view.cx - hw / S, 0, 1));
    const east = lonOf(clamp(view.cx + hw / S, 0, 1));
    const north = latOf(clamp(view.cy - hh / S, 0, 1));
    const south = latOf(clamp(view.cy + hh / S, 0, 1));
    const centerLat = latOf(view.cy);
    const lonStep = gridStep(360 / S, 110);
    const latStep = gridStep((360 / S) * Math.cos((centerLat * Math.PI) / 180), 110);

    // minor lines
    ctx.lineWidth = 1;
    ctx.strokeStyle = '#e7e4dd';
    ctx.beginPath();
    const lonMinor = minorOf(lonStep);
    const latMinor = minorOf(latStep);
    if ((lonMinor / 360) * S >= 14) {
      for (let lon = Math.ceil(west / lonMinor) * lonMinor; lon <= east; lon += lonMinor) {
        const px = Math.round(x(mercX(lon))) + 0.5;
        ctx.moveTo(px, y0);
        ctx.lineTo(px, y1);
      }
    }
    if ((latMinor / 360) * S * Math.cos((centerLat * Math.PI) / 180) >= 14) {
      for (let lat = Math.ceil(south / latMinor) * latMinor; lat <= north; lat += latMinor) {
        const py = Math.round(y(mercY(lat))) + 0.5;
        ctx.moveTo(x0, py);
        ctx.lineTo(x1, py);
      }
    }
    ctx.stroke();

    // major lines
    ctx.strokeStyle = '#cfcac0';
    ctx.beginPath();
    const lonLines = [];
    const latLines = [];
    for (let i = Math.ceil(west / lonStep); i * lonStep <= east; i++) {
      const lon = i * lonStep;
      const px = Math.round(x(mercX(lon))) + 0.5;
      lonLines.push([lon, px]);
      ctx.moveTo(px, y0);
      ctx.lineTo(px, y1);
    }
    for (let i = Math.ceil(south / latStep); i * latStep <= north; i++) {
      const lat = i * latStep;
      const py = Math.round(y(mercY(lat))) + 0.5;
      latLines.push([lat, py]);
      ctx.moveTo(x0, py);
      ctx.lineTo(x1, py);
    }
    ctx.stroke();

    // equator and prime meridian a little stronger
    ctx.strokeStyle = '#b9b3a7';
    ctx.beginPath();
    if (west <= 0 && east >= 0) {
      const px = Math.round(x(mercX(0))) + 0.5;
      ctx.moveTo(px, y0);
      ctx.lineTo(px, y1);
    }
    if (south <= 0 && north >= 0) {
      const py = Math.round(y(mercY(0))) + 0.5;
      ctx.moveTo(x0, py);
      ctx.lineTo(x1, py);
    }
    ctx.stroke();

    // labels: longitudes along the top, latitudes along the right edge
    ctx.font = '11px system-ui, "DejaVu Sans", sans-serif';
    ctx.lineJoin = 'round';
    ctx.lineWidth = 3;
    ctx.strokeStyle = 'rgba(243,241,236,0.95)';
    ctx.fillStyle = '#8a8478';
    ctx.textBaseline = 'top';
    ctx.textAlign = 'center';
    const lonDec = decimalsOf(lonStep);
    for (const [lon, px] of lonLines) {
      if (px < 60 || px > cssW - 30) continue;
      const label = fmtDeg(lon, 'E', 'W', lonDec);
      ctx.strokeText(label, px, 4);
      ctx.fillText(label, px, 4);
    }
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    const latDec = decimalsOf(latStep);
    for (const [lat, py] of latLines) {
      if (py < 24 || py > cssH - 40) continue;
      const label = fmtDeg(lat, 'N', 'S', latDec);
      ctx.strokeText(label, cssW - 5, py - 7);
      ctx.fillText(label, cssW - 5, py - 7);
    }
  }

  // reused per frame: groups[ci * KINDS + kind] = flat [x, y, courseRad, …]
  let groups = [];

  function drawVehicles() {
    const S = worldPx();
    const hw = cssW / 2;
    const hh = cssH / 2;
    const cx = view.cx;
    const cy = view.cy;
    const now = Date.now();
    const size = clamp(2.6 + (view.zoom - 9) * 0.75, 2.6, 7.5);
    markerSize = size;
    const margin = size * 2;
    const nGroups = (PALETTE.length + 1) * KINDS;
    if (groups.length !== nGroups) groups = Array.from({ length: nGroups }, () => []);
    for (const g of groups) g.length = 0;

    if (hitX.length < vehicles.size) {
      hitX = new Float32Array(vehicles.size * 2);
      hitY = new Float32Array(vehicles.size * 2);
    }
    hitN = 0;
    hitV.length = 0;
    for (const v of vehicles.values()) {
      const mx = v.mx;
      if (!(mx === mx)) continue; // NaN: no position
      const px = (mx - cx) * S + hw;
      const py = (v.my - cy) * S + hh;
      if (px < -margin || py < -margin || px > cssW + margin || py > cssH + margin) continue;
      let kind = v.moving ? K_MOVING : v.ignition === false ? K_PARKED : K_STOPPED;
      if (!(now - v.ts <= STALE_MS)) kind += STALE;
      groups[v.ci * KINDS + kind].push(px, py, typeof v.course === 'number' ? (v.course * Math.PI) / 180 : NaN);
      hitX[hitN] = px;
      hitY[hitN] = py;
      hitV[hitN] = v;
      hitN++;
    }
    visibleCount = hitN;

    // Markers are blitted from pre-rendered sprites (one per colour, kind and 5° of course):
    // one unscaled drawImage per vehicle rasterises faster than filling and stroking one path per
    // colour (~30% in software canvas, more with GPU canvas), and costs little JS.
    for (const kind of DRAW_ORDER) {
      const base = kind % STALE;
      ctx.globalAlpha = kind >= STALE ? 0.35 : 1;
      for (let ci = 0; ci <= PALETTE.length; ci++) {
        const arr = groups[ci * KINDS + kind];
        if (arr.length === 0) continue;
        const sp = sprite(ci, base, size);
        const cellPx = sp.cellPx;
        const cell = sp.cell;
        const half = cell / 2;
        const img = sp.canvas;
        for (let i = 0; i < arr.length; i += 3) {
          const rad = arr[i + 2];
          let k = 0;
          if (base === K_MOVING) k = rad === rad ? Math.round(rad / ROT_STEP) % ROT_STEPS : ROT_STEPS;
          // whole device pixels: an unscaled copy, much cheaper than resampling
          const dx = Math.round((arr[i] - half) * dpr) / dpr;
          const dy = Math.round((arr[i + 1] - half) * dpr) / dpr;
          ctx.drawImage(img, k * cellPx, 0, cellPx, cellPx, dx, dy, cell, cell);
        }
      }
    }
    ctx.globalAlpha = 1;

    // names at street level
    if (view.zoom >= 15 && hitN <= 250) {
      ctx.font = '11px system-ui, "DejaVu Sans", sans-serif';
      ctx.textAlign = 'left';
      ctx.textBaseline = 'middle';
      ctx.lineWidth = 3;
      ctx.strokeStyle = 'rgba(255,255,255,0.9)';
      ctx.fillStyle = '#333';
      for (let i = 0; i < hitN; i++) {
        const v = hitV[i];
        const label = v.name || v.id;
        ctx.strokeText(label, hitX[i] + size * 1.8, hitY[i]);
        ctx.fillText(label, hitX[i] + size * 1.8, hitY[i]);
      }
    }
  }

  const ROT_STEPS = 72;
  const ROT_STEP = (2 * Math.PI) / ROT_STEPS;
  const sprites = new Map(); // `${ci}|${kind}|${size}|${dpr}` → {canvas, cell, cellPx}

  /** A strip of marker images: for K_MOVING one arrow per 5° of course plus a diamond (no course). */
  function sprite(ci, kind, size) {
    const s = Math.round(size * 4) / 4;
    const key = `${ci}|${kind}|${s}|${dpr}`;
    let sp = sprites.get(key);
    if (sp) return sp;
    if (sprites.size > 2000) sprites.clear();
    const cellPx = Math.ceil((s * 3.6 + 4) * dpr);
    const cell = cellPx / dpr;
    const n = kind === K_MOVING ? ROT_STEPS + 1 : 1;
    const canvasEl = document.createElement('canvas');
    canvasEl.width = cellPx * n;
    canvasEl.height = cellPx;
    const g = canvasEl.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    for (let k = 0; k < n; k++) {
      g.beginPath();
      pathMarker(g, (k + 0.5) * cell, cell / 2, k < ROT_STEPS && kind === K_MOVING ? k * ROT_STEP : NaN, kind, s);
      paintMarker(g, kind, colourOf(ci));
    }
    sp = { canvas: canvasEl, cell, cellPx };
    sprites.set(key, sp);
    return sp;
  }

  function pathMarker(g, x, y, rad, kind, s) {
    if (kind === K_MOVING && rad === rad) {
      const c = Math.cos(rad);
      const n = Math.sin(rad);
      // arrow pointing north, rotated clockwise by the course: (px, py) → (px·c − py·n, px·n + py·c)
      const tipY = -1.6 * s;
      const backY = 1.1 * s;
      const notchY = 0.45 * s;
      const side = 1.05 * s;
      g.moveTo(x - tipY * n, y + tipY * c);
      g.lineTo(x + side * c - backY * n, y + side * n + backY * c);
      g.lineTo(x - notchY * n, y + notchY * c);
      g.lineTo(x - side * c - backY * n, y - side * n + backY * c);
      g.closePath();
    } else if (kind === K_MOVING) {
      // moving without a course: a diamond
      g.moveTo(x, y - 1.3 * s);
      g.lineTo(x + 1.3 * s, y);
      g.lineTo(x, y + 1.3 * s);
      g.lineTo(x - 1.3 * s, y);
      g.closePath();
    } else {
      const r = s * 0.72;
      g.moveTo(x + r, y);
      g.arc(x, y, r, 0, Math.PI * 2);
    }
  }

  function paintMarker(g, kind, colour) {
    if (kind === K_PARKED) {
      g.fillStyle = '#ffffff';
      g.fill();
      g.lineWidth = 1.6;
      g.strokeStyle = colour;
      g.stroke();
    } else {
      g.fillStyle = colour;
      g.fill();
      g.lineWidth = 0.9;
      g.strokeStyle = 'rgba(255,255,255,0.95)';
      g.stroke();
    }
  }

  function screenOf(v) {
    const S = worldPx();
    return { x: (v.mx - view.cx) * S + cssW / 2, y: (v.my - view.cy) * S + cssH / 2 };
  }

  function drawHighlights() {
    for (const [id, colour, width] of [
      [selectedId, '#111', 2],
      [hoverId, 'rgba(17,17,17,0.55)', 1.5],
    ]) {
      if (id === null) continue;
      const v = vehicles.get(id);
      if (!v || !(v.mx === v.mx)) continue;
      const p = screenOf(v);
      ctx.beginPath();
      ctx.arc(p.x, p.y, markerSize * 2.1 + 2, 0, Math.PI * 2);
      ctx.lineWidth = width;
      ctx.strokeStyle = colour;
      ctx.stroke();
    }
  }

  function drawScaleBar() {
    const S = worldPx();
    const lat = latOf(view.cy);
    const mPerPx = (40075016.686 * Math.cos((lat * Math.PI) / 180)) / S;
    const maxPx = 130;
    const maxM = mPerPx * maxPx;
    const pow = Math.pow(10, Math.floor(Math.log10(maxM)));
    let m = pow;
    for (const f of [5, 2, 1]) {
      if (f * pow <= maxM) {
        m = f * pow;
        break;
      }
    }
    const px = m / mPerPx;
    const x0 = 14;
    const y0 = cssH - 22;
    ctx.fillStyle = 'rgba(255,255,255,0.8)';
    ctx.fillRect(x0 - 6, y0 - 28, Math.max(px, 150) + 16, 40);
    ctx.fillStyle = '#333';
    ctx.fillRect(x0, y0, px / 2, 4);
    ctx.fillStyle = '#fff';
    ctx.fillRect(x0 + px / 2, y0, px / 2, 4);
    ctx.strokeStyle = '#333';
    ctx.lineWidth = 1;
    ctx.strokeRect(x0 + 0.5, y0 + 0.5, px, 4);
    ctx.font = '11px system-ui, "DejaVu Sans", sans-serif';
    ctx.textBaseline = 'bottom';
    ctx.textAlign = 'left';
    ctx.fillStyle = '#333';
    const label = m >= 1000 ? `${m / 1000} km` : `${m} m`;
    ctx.fillText(label, x0, y0 - 2);
    ctx.fillStyle = '#6b7785';
    const lon = lonOf(view.cx);
    ctx.fillText(`z ${view.zoom.toFixed(1)} · ${fmtDeg(lat, 'N', 'S', 4)} ${fmtDeg(lon, 'E', 'W', 4)}`, x0, y0 - 15);
  }

  // ------------------------------------------------------------------ tooltip and selection

  function hitTest(x, y) {
    const r = Math.max(8, markerSize * 1.9);
    let best = null;
    let bestD = r * r;
    for (let i = hitN - 1; i >= 0; i--) {
      const dx = hitX[i] - x;
      const dy = hitY[i] - y;
      const d = dx * dx + dy * dy;
      if (d <= bestD) {
        bestD = d;
        best = hitV[i];
      }
    }
    return best;
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
      ['position', typeof v.lat === 'number' ? `${v.lat.toFixed(5)}, ${v.lon.toFixed(5)}` : '–'],
      ['ts', typeof v.ts === 'number' ? `${new Date(v.ts).toLocaleTimeString()} (${fmtAge(now - v.ts)} ago)` : '–'],
    ];
    return rows;
  }

  function refreshTooltip() {
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
    if (!v || !(v.mx === v.mx)) return;
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
      return;
    }
    el.selTable.innerHTML = detailRows(v)
      .map(([k, val]) => `<tr><th>${esc(k)}</th><td>${esc(val)}</td></tr>`)
      .join('');
  }

  function setHover(v) {
    const id = v ? v.id : null;
    canvas.classList.toggle('over-vehicle', id !== null);
    if (id === hoverId) return;
    hoverId = id;
    tooltipDirty = true;
    requestRender();
  }

  function select(id) {
    selectedId = id;
    refreshSelection();
    requestRender();
  }

  // ------------------------------------------------------------------ legend

  const legendItems = new Map(); // company id (null: unbound) → count element

  function refreshLegend() {
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

  // ------------------------------------------------------------------ view changes

  function onViewChanged(byUser) {
    if (byUser) userMoved = true;
    clampView();
    requestRender();
    scheduleHashUpdate();
    if (el.follow.checked) {
      window.clearTimeout(bboxTimer);
      bboxTimer = window.setTimeout(sendSub, BBOX_DEBOUNCE_MS);
    }
  }

  function zoomAt(px, py, newZoom) {
    newZoom = clamp(newZoom, MIN_ZOOM, MAX_ZOOM);
    const S0 = worldPx();
    const mx = view.cx + (px - cssW / 2) / S0;
    const my = view.cy + (py - cssH / 2) / S0;
    view.zoom = newZoom;
    const S1 = worldPx();
    view.cx = mx - (px - cssW / 2) / S1;
    view.cy = my - (py - cssH / 2) / S1;
    onViewChanged(true);
  }

  function fitAll() {
    let x0 = Infinity;
    let y0 = Infinity;
    let x1 = -Infinity;
    let y1 = -Infinity;
    for (const v of vehicles.values()) {
      if (!(v.mx === v.mx)) continue;
      if (v.mx < x0) x0 = v.mx;
      if (v.mx > x1) x1 = v.mx;
      if (v.my < y0) y0 = v.my;
      if (v.my > y1) y1 = v.my;
    }
    if (x0 === Infinity) return;
    const pad = 40;
    const spanX = Math.max(x1 - x0, 1e-9);
    const spanY = Math.max(y1 - y0, 1e-9);
    const z = Math.log2(Math.min((cssW - 2 * pad) / (spanX * TILE), (cssH - 2 * pad) / (spanY * TILE)));
    view.zoom = clamp(Math.min(z, 16), MIN_ZOOM, MAX_ZOOM);
    view.cx = (x0 + x1) / 2;
    view.cy = (y0 + y1) / 2;
    onViewChanged(false);
  }

  let hashTimer = 0;
  function scheduleHashUpdate() {
    window.clearTimeout(hashTimer);
    hashTimer = window.setTimeout(() => {
      const h = `#${view.zoom.toFixed(2)}/${latOf(view.cy).toFixed(5)}/${lonOf(view.cx).toFixed(5)}`;
      if (location.hash !== h) window.history.replaceState(null, '', h);
    }, 400);
  }

  function readHash() {
    const m = /^#(-?[\d.]+)\/(-?[\d.]+)\/(-?[\d.]+)$/.exec(location.hash);
    if (!m) return false;
    const [z, lat, lon] = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (![z, lat, lon].every(Number.isFinite)) return false;
    view.zoom = z;
    setCenter(lat, lon);
    clampView();
    return true;
  }

  // ------------------------------------------------------------------ input

  let drag = null;

  canvas.addEventListener('pointerdown', (e) => {
    if (e.button !== 0) return;
    canvas.setPointerCapture(e.pointerId);
    drag = { id: e.pointerId, x: e.clientX, y: e.clientY, cx: view.cx, cy: view.cy, moved: false };
  });

  canvas.addEventListener('pointermove', (e) => {
    const r = canvas.getBoundingClientRect();
    pointer = { x: e.clientX - r.left, y: e.clientY - r.top };
    if (drag && drag.id === e.pointerId) {
      const dx = e.clientX - drag.x;
      const dy = e.clientY - drag.y;
      if (!drag.moved && dx * dx + dy * dy < 16) return;
      if (!drag.moved) {
        drag.moved = true;
        canvas.classList.add('dragging');
        setHover(null);
      }
      const S = worldPx();
      view.cx = drag.cx - dx / S;
      view.cy = drag.cy - dy / S;
      onViewChanged(true);
      return;
    }
    setHover(hitTest(pointer.x, pointer.y));
  });

  function endDrag(e, cancelled) {
    if (!drag || drag.id !== e.pointerId) return;
    const wasClick = !drag.moved && !cancelled;
    drag = null;
    canvas.classList.remove('dragging');
    if (wasClick) {
      const r = canvas.getBoundingClientRect();
      const v = hitTest(e.clientX - r.left, e.clientY - r.top);
      select(v ? v.id : null);
    }
  }
  canvas.addEventListener('pointerup', (e) => endDrag(e, false));
  canvas.addEventListener('pointercancel', (e) => endDrag(e, true));
  canvas.addEventListener('pointerleave', () => {
    pointer = null;
    if (!drag) setHover(null);
  });

  canvas.addEventListener(
    'wheel',
    (e) => {
      e.preventDefault();
      const r = canvas.getBoundingClientRect();
      const unit = e.deltaMode === 1 ? 0.05 : e.deltaMode === 2 ? 1 : 0.0022;
      const dz = clamp(-e.deltaY * unit, -1, 1);
      zoomAt(e.clientX - r.left, e.clientY - r.top, view.zoom + dz);
    },
    { passive: false },
  );

  canvas.addEventListener('dblclick', (e) => {
    const r = canvas.getBoundingClientRect();
    zoomAt(e.clientX - r.left, e.clientY - r.top, view.zoom + (e.shiftKey ? -1 : 1));
  });

  canvas.addEventListener('keydown', (e) => {
    const S = worldPx();
    const step = 80 / S;
    switch (e.key) {
      case '+':
      case '=':
        zoomAt(cssW / 2, cssH / 2, view.zoom + 1);
        break;
      case '-':
        zoomAt(cssW / 2, cssH / 2, view.zoom - 1);
        break;
      case 'ArrowLeft':
        view.cx -= step;
        onViewChanged(true);
        break;
      case 'ArrowRight':
        view.cx += step;
        onViewChanged(true);
        break;
      case 'ArrowUp':
        view.cy -= step;
        onViewChanged(true);
        break;
      case 'ArrowDown':
        view.cy += step;
        onViewChanged(true);
        break;
      default:
        return;
    }
    e.preventDefault();
  });

  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') select(null);
  });

  $('zoom-in').addEventListener('click', () => zoomAt(cssW / 2, cssH / 2, Math.round(view.zoom) + 1));
  $('zoom-out').addEventListener('click', () => zoomAt(cssW / 2, cssH / 2, Math.round(view.zoom) - 1));
  $('zoom-fit').addEventListener('click', () => {
    userMoved = true;
    fitAll();
  });
  el.selClear.addEventListener('click', () => select(null));
  el.events.addEventListener('click', (e) => {
    const li = e.target.closest('li[data-vehicle]');
    if (!li) return;
    const v = vehicles.get(li.dataset.vehicle);
    select(li.dataset.vehicle);
    if (v && v.mx === v.mx) {
      view.cx = v.mx;
      view.cy = v.my;
      if (view.zoom < 14) view.zoom = 14;
      onViewChanged(true);
    }
  });

  window.addEventListener('hashchange', () => {
    if (readHash()) onViewChanged(true);
  });

  window.addEventListener('resize', () => {
    resize();
    onViewChanged(false);
  });

  // ------------------------------------------------------------------ connection

  function send(obj) {
    if (!ws || ws.readyState !== 1) return false;
    ws.send(packr.pack(obj));
    return true;
  }

  function sendSub() {
    window.clearTimeout(bboxTimer);
    const sub = el.follow.checked ? { t: 'sub', bbox: viewportBbox() } : { t: 'sub' };
    const key = JSON.stringify(sub);
    if (key === lastSubKey) return;
    if (!send(sub)) return;
    lastSubKey = key;
    el.subDesc.textContent = sub.bbox
      ? `subscription: bbox [${sub.bbox.map((n) => n.toFixed(4)).join(', ')}]`
      : 'subscription: everything this token allows';
  }

  async function getToken() {
    if (manualToken) {
      el.tokenSrc.textContent = 'using the token from the field';
      return manualToken;
    }
    try {
      const res = await fetch('v1/demo/token', { cache: 'no-store', headers: { accept: 'application/json' } });
      if (res.ok) {
        const body = await res.json();
        if (body && typeof body.token === 'string' && body.token) {
          el.tokenSrc.textContent = 'using the demo token from /v1/demo/token (admin, demo mode)';
          return body.token;
        }
      }
      el.tokenSrc.textContent = `no demo token (HTTP ${res.status}); using the token field`;
    } catch (err) {
      el.tokenSrc.textContent = `no demo token (${err && err.message ? err.message : 'network error'}); using the token field`;
    }
    return el.token.value.trim();
  }

  function connect() {
    window.clearTimeout(retryTimer);
    retryAt = 0;
    const gen = ++wsGen;
    setStatus('connecting', 'connecting…');
    getToken().then((token) => {
      if (gen !== wsGen) return;
      if (!token) {
        scheduleReconnect('no token: paste one and press Connect');
        return;
      }
      const url = new window.URL('v1/stream', location.href);
      url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
      url.search = `?token=${encodeURIComponent(token)}`;
      url.hash = '';
      let sock;
      try {
        sock = new WebSocket(url.href);
      } catch (err) {
        scheduleReconnect(`cannot open WebSocket: ${err && err.message}`);
        return;
      }
      sock.binaryType = 'arraybuffer';
      ws = sock;
      sock.onopen = () => {
        if (sock !== ws) return;
        openedAt = Date.now();
        lastSubKey = '';
        lastSeq = null;
        setStatus('live', 'connected');
        log('connected');
        sendSub();
        startPing();
      };
      sock.onmessage = (ev) => {
        if (sock === ws) onFrame(ev.data);
      };
      sock.onerror = () => {
        /* a close event with the code follows */
      };
      sock.onclose = (ev) => {
        if (sock !== ws) return;
        ws = null;
        stopPing();
        if (openedAt && Date.now() - openedAt > 10_000) backoff = BACKOFF_MIN_MS;
        openedAt = 0;
        const what = CLOSE_CODES[ev.code] ? ` ${CLOSE_CODES[ev.code]}` : '';
        const why = `closed (code ${ev.code}${what}${ev.reason ? `: ${ev.reason}` : ''})`;
        log(why, ev.code !== 1000);
        // a node going away is routine: come back at once (to any node)
        if (ev.code === 4503 || ev.code === 1001) backoff = BACKOFF_MIN_MS;
        scheduleReconnect(why);
      };
    });
  }

  function scheduleReconnect(why) {
    window.clearTimeout(retryTimer);
    const delay = Math.round(backoff * (0.8 + 0.4 * Math.random()));
    backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
    retryReason = why;
    retryAt = Date.now() + delay;
    showRetry();
    retryTimer = window.setTimeout(connect, delay);
  }

  function showRetry() {
    if (!retryAt) return;
    const s = Math.max(0, (retryAt - Date.now()) / 1000);
    setStatus('closed', `${retryReason} — retry in ${s.toFixed(s < 10 ? 1 : 0)} s`);
  }

  function reconnectNow() {
    const old = ws;
    ws = null;
    stopPing();
    if (old) old.close(1000, 'reconnect');
    backoff = BACKOFF_MIN_MS;
    connect();
  }

  function ping() {
    pingSentAt = performance.now();
    send({ t: 'ping' });
  }
  function startPing() {
    stopPing();
    ping();
    pingTimer = window.setInterval(ping, PING_EVERY_MS);
  }
  function stopPing() {
    window.clearInterval(pingTimer);
    pingTimer = 0;
  }

  function onFrame(data) {
    let msg;
    try {
      msg = typeof data === 'string' ? JSON.parse(data) : msgpackr.unpack(new Uint8Array(data));
    } catch (err) {
      log(`undecodable frame: ${err && err.message}`, true);
      return;
    }
    if (!msg || typeof msg !== 'object') return;
    framesInWindow++;
    if (typeof msg.seq === 'number') {
      // seq grows by one per snap/d/gone/ev/unsubbed frame of a connection: a jump means we missed frames
      if (lastSeq !== null && msg.seq !== lastSeq + 1) seqGaps++;
      lastSeq = msg.seq;
    }
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
        if (pingSentAt) {
          const now = performance.now();
          lastRtt = now - pingSentAt;
          // NTP-style: the server read its clock about half a round trip ago
          if (typeof msg.ts === 'number') clockSkew = msg.ts - (Date.now() - lastRtt / 2);
          pingSentAt = 0;
        }
        break;
      case 'unsubbed':
        break;
      default:
        log(`unknown frame type ${JSON.stringify(msg.t)}`, true);
    }
  }

  // ------------------------------------------------------------------ panel controls

  el.follow.checked = localStorage.getItem(FOLLOW_KEY) === '1';
  el.follow.addEventListener('change', () => {
    localStorage.setItem(FOLLOW_KEY, el.follow.checked ? '1' : '0');
    sendSub();
  });

  // A hidden tab needs no updates: drop the subscription, take a fresh snapshot when visible again.
  document.addEventListener('visibilitychange', () => {
    if (document.hidden) {
      if (send({ t: 'unsub' })) {
        lastSubKey = '';
        el.subDesc.textContent = 'subscription: paused while the tab is hidden';
      }
    } else sendSub();
  });

  el.token.value = localStorage.getItem(TOKEN_KEY) || '';
  manualToken = '';
  el.connect.addEventListener('click', () => {
    manualToken = el.token.value.trim();
    if (manualToken) localStorage.setItem(TOKEN_KEY, manualToken);
    else localStorage.removeItem(TOKEN_KEY);
    log(manualToken ? 'connecting with the token from the field' : 'connecting with the demo token');
    reconnectNow();
  });
  el.token.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') el.connect.click();
  });

  // once a second: counters, ages, legend
  window.setInterval(() => {
    secondsTicked++;
    el.fps.textContent = String(framesInWindow);
    el.ups.textContent = String(updatesInWindow);
    framesInWindow = 0;
    updatesInWindow = 0;
    el.total.textContent = String(vehicles.size);
    el.visible.textContent = String(visibleCount);
    el.latency.textContent = lastLatency === null ? '–' : `${fmtMs(lastLatency)} (avg ${fmtMs(avgLatency)})`;
    el.ping.textContent =
      lastRtt === null ? '–' : `${fmtMs(lastRtt)}${clockSkew === null ? '' : ` · server clock ${clockSkew >= 0 ? '+' : ''}${fmtMs(clockSkew)}`}`;
    el.seq.textContent = lastSeq === null ? '–' : `${lastSeq}${seqGaps ? ` (${seqGaps} gaps)` : ''}`;
    el.evRate.textContent = String(eventsInWindow);
    eventsInWindow = 0;
    renderEvents();
    el.render.textContent = renderMs ? `${renderMs.toFixed(1)} ms / frame` : '–';
    refreshLegend();
    if (hoverId !== null || selectedId !== null) refreshTooltip(); // ages move with time
    if (secondsTicked % 10 === 0 && vehicles.size > 0) requestRender(); // so does staleness
    showRetry();
  }, 1000);

  // ------------------------------------------------------------------ start

  if (readHash()) userMoved = true;
  else setCenter(DEFAULT_VIEW.lat, DEFAULT_VIEW.lon);
  resize();
  refreshLegend();
  connect();
})();
