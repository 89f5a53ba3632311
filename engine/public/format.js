export function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}
export function fmtAge(ms) {
  if (!Number.isFinite(ms)) return '–';
  if (ms < 0) return `${(-ms / 1000).toFixed(1)} s in the future`;
  if (ms < 1000) return '<1 s';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d`;
}
export function fmtDeg(v, pos, neg, decimals) {
  return `${Math.abs(v).toFixed(decimals)}°${v >= 0 ? pos : neg}`;
}
export function fmtNum(v, digits, unit) {
  return typeof v === 'number' && Number.isFinite(v) ? `${v.toFixed(digits)}${unit}` : '–';
}
export function fmtMs(v) {
  if (v === null) return '–';
  return Math.abs(v) >= 10_000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`;
}
