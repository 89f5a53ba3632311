import type { ComparisonResult, SystemComparison } from './comparison.js';
import { chartLibrary, charts, escapeHtml, scriptJson, type ChartData } from './html-report.js';

const n = (v: number): string => v.toLocaleString('en-US');
const mib = (b: number): string => `${(b / 1048576).toFixed(0)} MiB`;
const yes = (b: boolean): string => (b ? 'met' : 'MISSED');

/** The rows both systems are compared on: label, baseline, Fleetline, Fleetline / baseline. */
export function comparisonRows(r: ComparisonResult): [string, string, string, string][] {
  const row = (label: string, pick: (s: SystemComparison) => string, ratio = ''): [string, string, string, string] => [label, pick(r.baseline), pick(r.fleetline), ratio];
  const lat = (s: SystemComparison): string => `${s.run.latency.p50} / ${s.run.latency.p90} / ${s.run.latency.p99} / ${s.run.latency.p999} / ${s.run.latency.max} ms`;
  return [
    row('intake: backlog drained, first point handled to last committed (points/s)', (s) => `${n(s.drain.perS)} (${n(s.drain.points)} in ${s.drain.drainS} s${s.drain.complete ? '' : ', did NOT finish'}${s.drain.startEstimated ? ', start extrapolated' : ''})`, `${r.ratios.intake}x (target ≥ ${r.targets.intake.target}x: ${yes(r.targets.intake.met)})`),
    row('intake: steady pace handling the backlog, 10–90 % (points/s)', (s) => n(s.drain.steadyPerS), `${r.ratios.steadyIntake}x`),
    row('live runs (points/s asked → handled: sustained?)', (s) => s.attempts.map((a) => `${n(a.ratePerS)} → ${n(a.handledPerS)}: ${a.sustained ? 'yes' : `no (${a.why})`}`).join('; ')),
    row(`latency p50 / p90 / p99 / p99.9 / max at ${n(r.comparedAtPerS)} points/s`, lat, `p99 ${r.ratios.p99}x (target ≤ ${r.targets.p99.target}x: ${yes(r.targets.p99.met)}), p50 ${r.ratios.p50}x`),
    row('deliveries timed', (s) => n(s.run.latency.count)),
    row('sent / asked in the live run', (s) => `${n(s.run.intake.sentPerS)} / ${n(s.run.intake.askedPerS)} (${(s.run.intake.achievedRatio * 100).toFixed(1)} %)`),
    row('consumer lag start → end of the load (growth)', (s) => { const a = s.attempts.at(-1)!; return `${n(a.lagAtStart)} → ${n(a.lagAtEnd)} (${n(a.lagGrowthPerS)}/s)`; }),
    row('clients connected', (s) => `${s.run.clients.connected} of ${s.run.clients.planned}`),
    row('updates per client mean', (s) => n(s.run.clients.updates.mean)),
    row('lost updates (checked clients)', (s) => (s.run.loss.clients > 0 ? `${n(s.run.loss.lost)} of ${n(s.run.loss.expected)}` : `not checked (${s.run.loss.unchecked} clients unchecked)`)),
    row('CPU, all processes (cores, mean over the load)', (s) => String(s.cpuCores)),
    row('peak RSS, all processes', (s) => mib(s.peakRssBytes)),
  ];
}

/** The CLI's side-by-side summary. */
export function comparisonSummaryLines(r: ComparisonResult): string[] {
  const rows = comparisonRows(r);
  const w0 = Math.max(...rows.map((x) => x[0].length), 6);
  const w1 = Math.max(...rows.map((x) => x[1].length), 8);
  const w2 = Math.max(...rows.map((x) => x[2].length), 9);
  const line = (a: string, b: string, c: string, d: string): string => `  ${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c.padEnd(w2)}  ${d}`.trimEnd();
  return [
    `${r.name}: baseline vs Fleetline, ${n(r.options.devices)} devices via kafka, ${n(r.options.clients)} clients, ${r.options.durationS} s live runs; ${r.seconds} s in all`,
    `  baseline's highest sustained live rate: ${n(r.baselineMaxSustainedPerS)} points/s${r.baselineSustained ? '' : ' (NOT sustained: no attempt kept up)'}; both live runs at it`,
    line('', 'baseline', 'Fleetline', 'Fleetline / baseline'),
    ...rows.map(([a, b, c, d]) => line(a, b, c, d)),
    `  load average ${r.machine.loadavgBefore.join(' ')} before, ${r.machine.loadavgAfter.join(' ')} after (${r.machine.cpus} cores)`,
  ];
}

/** The drain of both systems: points committed over time since each was started. */
function drainChart(r: ComparisonResult): ChartData {
  const xs = [...new Set([...r.baseline.drain.samples, ...r.fleetline.drain.samples].map((s) => Math.round(s.t * 2) / 2))].sort((a, b) => a - b);
  const at = (s: SystemComparison): (number | null)[] => {
    const byT = new Map(s.drain.samples.map((x) => [Math.round(x.t * 2) / 2, x.handled]));
    return xs.map((t) => byT.get(t) ?? null);
  };
  return { title: 'Backlog drain: points handled since the start', unit: 'points', x: xs, series: [{ label: 'baseline', values: at(r.baseline) }, { label: 'Fleetline', values: at(r.fleetline) }] };
}

function lagChart(s: SystemComparison): ChartData {
  return { title: 'Lag: records in telemetry.raw not yet handled', unit: 'records', x: s.lag.map((x) => x.t), series: [{ label: 'lag', values: s.lag.map((x) => x.lag) }] };
}

/** Both systems in one self-contained page: the table, the drain, then each plot of both side by side. */
export function renderComparisonHtml(r: ComparisonResult): string {
  const { js, css } = chartLibrary();
  const rows = comparisonRows(r);
  const table = `<table><tr><th></th><th>baseline</th><th>Fleetline</th><th>Fleetline / baseline</th></tr>${rows.map((row) => `<tr>${row.map((c, i) => (i === 0 ? `<th>${escapeHtml(c)}</th>` : `<td>${escapeHtml(c)}</td>`)).join('')}</tr>`).join('')}</table>`;
  const bl = [...charts(r.baseline.run), lagChart(r.baseline)];
  const fl = [...charts(r.fleetline.run), lagChart(r.fleetline)];
  const pairs = bl.map((c, i) => [c, fl[i]] as const);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Fleetline beside the baseline: ${escapeHtml(r.name)}</title>
<style>${css}</style>
<style>body{font:14px system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:12px 0}th,td{text-align:left;padding:3px 10px;border-bottom:1px solid #ddd;vertical-align:top}th{font-weight:600;color:#555}.pair{display:grid;grid-template-columns:1fr 1fr;gap:16px;margin:18px 0}.pair h3{margin:0 0 4px;font-size:14px}</style>
</head><body>
<h1>Fleetline beside the baseline: ${escapeHtml(r.name)}</h1>
<p>Started ${escapeHtml(r.startedAt)}, ${r.seconds} s in all; ${n(r.options.devices)} devices via Kafka, ${n(r.options.clients)} clients, live runs of ${r.options.durationS} s at the baseline's highest sustained rate, <b>${n(r.comparedAtPerS)} points/s</b>${r.baselineSustained ? '' : ' (not sustained: no attempt of the baseline kept up)'}.
Machine: ${r.machine.cpus} × ${escapeHtml(r.machine.cpuModel)}, Node ${escapeHtml(r.machine.node)}, load average ${r.machine.loadavgBefore.join(' ')} before and ${r.machine.loadavgAfter.join(' ')} after.</p>
${table}
<div id="drain"></div>
<div id="charts"></div>
<script>${js}</script>
<script id="fleetline-comparison" type="application/json">${scriptJson(r)}</script>
<script>
const DRAIN = ${scriptJson(drainChart(r))};
const PAIRS = ${scriptJson(pairs)};
const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'];
function plot(c, el, width) {
  if (c.x.length === 0) { el.textContent = c.title + ': no samples'; return; }
  new uPlot({
    title: c.title, width, height: 240,
    scales: { x: { time: false } },
    axes: [{ label: 'seconds' }, { label: c.unit }],
    series: [{ label: 's' }, ...c.series.map((s, i) => ({ label: s.label, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: true }))],
  }, [c.x, ...c.series.map((s) => s.values)], el);
}
plot(DRAIN, document.getElementById('drain'), Math.min(1000, window.innerWidth - 60));
const half = Math.max(320, Math.floor((window.innerWidth - 80) / 2));
for (const [b, f] of PAIRS) {
  const row = document.createElement('div');
  row.className = 'pair';
  for (const [who, c] of [['baseline', b], ['Fleetline', f]]) {
    const cell = document.createElement('div');
    const h = document.createElement('h3');
    h.textContent = who;
    cell.appendChild(h);
    row.appendChild(cell);
    plot(c, cell, half);
  }
  document.getElementById('charts').appendChild(row);
}
</script>
</body></html>
`;
}
