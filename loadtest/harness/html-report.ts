import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { RunResult } from './run-result.js';

const require = createRequire(import.meta.url);

/** uPlot's browser build and stylesheet, inlined so the report opens anywhere, offline. */
export function chartLibrary(): { js: string; css: string } {
  const js = readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8');
  const css = readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8');
  return { js, css };
}

/** A chart: x (seconds), then one named series per line, aligned on x (null where missing). */
export interface ChartData { title: string; unit: string; x: number[]; series: { label: string; values: (number | null)[] }[] }

function engineChart(r: RunResult, title: string, unit: string, pick: (s: RunResult['engine']['samples'][number]) => number): ChartData {
  const engines = [...new Set(r.engine.samples.map((s) => s.engine))];
  const x = [...new Set(r.engine.samples.map((s) => Math.round(s.t)))].sort((a, b) => a - b);
  const series = engines.map((e) => {
    const byT = new Map(r.engine.samples.filter((s) => s.engine === e).map((s) => [Math.round(s.t), pick(s)]));
    return { label: engines.length > 1 ? e : title, values: x.map((t) => byT.get(t) ?? null) };
  });
  return { title, unit, x, series };
}

export function charts(r: RunResult): ChartData[] {
  const lat = r.timeline.latency.filter((s) => s.count > 0);
  const tp = r.timeline.throughput;
  return [
    {
      title: 'End-to-end latency per second', unit: 'ms', x: lat.map((s) => s.t),
      series: (['p50', 'p90', 'p99', 'p999', 'max'] as const).map((k) => ({ label: k, values: lat.map((s) => s[k]) })),
    },
    {
      title: 'Throughput: asked vs achieved', unit: 'points/s', x: tp.map((s) => s.t),
      series: [
        { label: 'asked', values: tp.map((s) => s.askedPerS) },
        { label: 'sent', values: tp.map((s) => s.sentPerS) },
        { label: 'accepted by intake', values: tp.map((s) => s.acceptedPerS) },
        { label: 'delivered to clients', values: tp.map((s) => s.deliveredPerS) },
      ],
    },
    engineChart(r, 'Points applied by the actors', 'points/s', (s) => s.appliedPerS),
    engineChart(r, 'Engine RSS', 'MiB', (s) => Math.round(s.rssBytes / 1048576)),
    engineChart(r, 'Engine CPU', 'cores', (s) => s.cpu),
    engineChart(r, 'Event-loop delay p99', 'ms', (s) => s.eventLoopP99Ms),
    engineChart(r, 'Consumer lag (telemetry.raw)', 'records', (s) => s.consumerLag),
  ];
}

export const escapeHtml = (s: string): string => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
/** JSON that is safe inside a <script> element. */
export const scriptJson = (v: unknown): string => JSON.stringify(v).replace(/</g, '\\u003c');

function table(rows: [string, string | number][]): string {
  return `<table>${rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(String(v))}</td></tr>`).join('')}</table>`;
}

/** The run as one self-contained HTML page: the numbers, then the plots (uPlot, inlined). */
export function renderHtml(r: RunResult): string {
  const { js, css } = chartLibrary();
  const n = (v: number): string => v.toLocaleString('en-US');
  const summary = table([
    ['load', `${r.loadSeconds} s, ${n(r.options.devices)} devices via ${r.options.transport}, ${n(r.clients.planned)} clients`],
    ['intake asked / sent / accepted', `${n(r.intake.askedPerS)} / ${n(r.intake.sentPerS)} / ${n(r.intake.acceptedPerS)} points/s (achieved ${(r.intake.achievedRatio * 100).toFixed(1)} %)`],
    ['applied by the actors', `${n(r.intake.appliedPerS)} points/s`],
    ['rejected / failed / never sent / bad sent / duplicates sent', `${n(r.intake.rejected)} / ${n(r.intake.failed)} / ${n(r.intake.dropped)} / ${n(r.intake.bad)} / ${n(r.intake.duplicates)}`],
    ['latency p50 / p90 / p99 / p99.9 / max', `${r.latency.p50} / ${r.latency.p90} / ${r.latency.p99} / ${r.latency.p999} / ${r.latency.max} ms (${n(r.latency.count)} deliveries)`],
    ['clients connected', `${r.clients.connected} of ${r.clients.planned} (${Object.entries(r.clients.byKind).map(([k, v]) => `${v} ${k}`).join(', ')})`],
    ['updates per client min / mean / max', `${n(r.clients.updates.min)} / ${n(r.clients.updates.mean)} / ${n(r.clients.updates.max)}`],
    ['bytes per client min / mean / max', `${n(r.clients.bytes.min)} / ${n(r.clients.bytes.mean)} / ${n(r.clients.bytes.max)}`],
    ['lost updates (missing + stale + extra)', `${n(r.loss.lost)} of ${n(r.loss.expected)} vehicles checked (${r.loss.missing} missing, ${r.loss.stale} stale, ${r.loss.extra} extra; ${r.loss.unchecked} clients unchecked)`],
    ['duplicated updates / seq gaps / seq repeats', `${r.clients.duplicates} / ${r.clients.seqGaps} / ${r.clients.seqRepeats}`],
    ['engine peak RSS / mean CPU / max event-loop p99 / max lag', `${(r.engine.peakRssBytes / 1048576).toFixed(0)} MiB / ${r.engine.meanCpu} cores / ${r.engine.maxEventLoopP99Ms} ms / ${n(r.engine.maxConsumerLag)}`],
    ['machine', `${r.machine.cpus} × ${r.machine.cpuModel}, Node ${r.machine.node}`],
  ]);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Fleetline load test: ${escapeHtml(r.name)}</title>
<style>${css}</style>
<style>body{font:14px system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:12px 0}th,td{text-align:left;padding:3px 10px;border-bottom:1px solid #ddd}th{font-weight:600;color:#555}.chart{margin:18px 0}</style>
</head><body>
<h1>Fleetline load test: ${escapeHtml(r.name)}</h1>
<p>Started ${escapeHtml(r.startedAt)}.</p>
${summary}
<div id="charts"></div>
<script>${js}</script>
<script id="fleetline-run" type="application/json">${scriptJson(r)}</script>
<script>
const CHARTS = ${scriptJson(charts(r))};
const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'];
for (const c of CHARTS) {
  if (c.x.length === 0) continue;
  const el = document.createElement('div');
  el.className = 'chart';
  document.getElementById('charts').appendChild(el);
  new uPlot({
    title: c.title, width: Math.min(1000, window.innerWidth - 60), height: 260,
    scales: { x: { time: false } },
    axes: [{ label: 'seconds' }, { label: c.unit }],
    series: [{ label: 's' }, ...c.series.map((s, i) => ({ label: s.label, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: true }))],
  }, [c.x, ...c.series.map((s) => s.values)], el);
}
</script>
</body></html>
`;
}
