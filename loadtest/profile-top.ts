import { readFileSync } from 'node:fs';

/**
 * `node --import tsx loadtest/profile-top.ts FILE.cpuprofile [N] [FROM_S] [TO_S]`: the N
 * functions with the most self time in a V8 CPU profile (`BENCH_CPU_PROF=dir npm run
 * bench:delivery` writes the engine's), optionally only between FROM_S and TO_S seconds after
 * the profile began, and how busy the thread was each second (to find the loaded window).
 * Samples are wall time: a thread preempted in a syscall counts there.
 */
interface CallFrame { functionName: string; url: string; lineNumber: number; columnNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame }
interface CpuProfile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }

const [file, n = '40', from = '0', to = 'Infinity'] = process.argv.slice(2);
if (!file) {
  console.error('usage: profile-top.ts FILE.cpuprofile [N] [FROM_S] [TO_S]');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const idle = new Set(profile.nodes.filter((node) => node.callFrame.functionName === '(idle)').map((node) => node.id));
const self = new Map<string, number>();
const busy = new Map<number, number>();
let t = 0;
let total = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const dt = profile.timeDeltas[i] ?? 0;
  t += dt;
  const s = t / 1e6;
  if (!idle.has(profile.samples[i])) busy.set(Math.floor(s), (busy.get(Math.floor(s)) ?? 0) + dt);
  if (s < Number(from) || s > Number(to)) continue;
  const cf = (nodes.get(profile.samples[i]) as ProfileNode).callFrame;
  const key = `${cf.functionName || '(anonymous)'} ${cf.url.replace(/^.*\/node_modules\//, '').replace(/^file:\/\/.*?\/(actors|adapters|engine|loadtest)\//, '$1/')}:${cf.lineNumber + 1}:${cf.columnNumber + 1}`;
  self.set(key, (self.get(key) ?? 0) + dt);
  total += dt;
}
console.log(`busy per second: ${[...busy].map(([s, us]) => `${s}:${Math.round(us / 1e4)}%`).join(' ')}`);
console.log(`${(total / 1e6).toFixed(2)} s sampled between ${from} and ${to} s`);
for (const [key, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(n))) {
  console.log(`${((100 * us) / total).toFixed(1).padStart(5)}% ${(us / 1e3).toFixed(0).padStart(7)} ms  ${key}`);
}
