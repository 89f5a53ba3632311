/**
 * The demo map under load: a demo engine with DEVICES simulated vehicles (default 10,000, all in
 * view), the page in headless Chromium (software rendering, like the browser test), sampled for
 * SECONDS. Prints the frames the page drew per second and the time one takes (applying the
 * stream's changes and drawing), the gaps between animation frames (a long one is a stutter),
 * and the vehicle updates the SDK applied per second.
 *
 *   npm run bench:map -- [devices=10000] [seconds=20]       (DEMO_INTERVAL_MS=… slows the simulator)
 *
 * Screenshot: .cache/demo-map-bench.png. Numbers, not assertions: the browser test checks behaviour; this says how smooth it is here.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { chromium } from 'playwright-core';
import { loadConfig } from '../engine/config.js';
import { startNode } from '../engine/fleetline-node.js';

const devices = Number(process.argv[2] ?? 10_000);
const seconds = Number(process.argv[3] ?? 20);
const root = fileURLToPath(new URL('../', import.meta.url));

execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'packages/client/tsconfig.json')], { stdio: 'inherit' });
const node = await startNode(loadConfig({
  FLEETLINE_MODE: 'demo', PORT: '0', DEMO_DEVICES: String(devices), LOG_LEVEL: 'warn', DEMO_INTERVAL_MS: process.env.DEMO_INTERVAL_MS ?? '1000',
}), pino({ level: 'warn' }));
const profile = mkdtempSync(join(tmpdir(), 'fleetline-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium', headless: true, viewport: { width: 1280, height: 800 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto(node.url, { waitUntil: 'load', timeout: 120_000 });
  // the admin demo token sees every device, bound or not; nearly all of them are in the first view
  await page.waitForFunction((n) => ((window as unknown as { fleetline?: { vehicles: Map<string, unknown> } }).fleetline?.vehicles.size ?? 0) >= n, Math.floor(devices * 0.95), { timeout: 120_000 });
  await page.waitForTimeout(3000); // past the snapshot
  // Given as source text: tsx would wrap named functions in a helper the page does not have.
  const result = (await page.evaluate(`(async (ms) => {
    const f = window.fleetline;
    const drawn0 = { ...f.renderCounters };
    const gaps = [];
    let last = performance.now();
    let running = true;
    function tick(t) {
      gaps.push(t - last);
      last = t;
      if (running) requestAnimationFrame(tick);
    }
    requestAnimationFrame(tick);
    const ups = [];
    const timer = setInterval(() => ups.push(f.client.stats.updatesPerSecond), 1000);
    await new Promise((r) => setTimeout(r, ms));
    running = false;
    clearInterval(timer);
    gaps.sort((a, b) => a - b);
    const frames = f.renderCounters.frames - drawn0.frames;
    return {
      drawnPerSecond: frames / (ms / 1000),
      drawMs: frames === 0 ? 0 : (f.renderCounters.totalMs - drawn0.totalMs) / frames,
      p50GapMs: gaps[Math.floor(gaps.length / 2)],
      p99GapMs: gaps[Math.floor(gaps.length * 0.99)],
      maxGapMs: gaps[gaps.length - 1],
      visible: document.getElementById('st-visible').textContent,
      updatesPerSecond: ups.reduce((a, b) => a + b, 0) / Math.max(1, ups.length),
    };
  })(${seconds * 1000})`)) as { drawnPerSecond: number; drawMs: number; p50GapMs: number; p99GapMs: number; maxGapMs: number; visible: string; updatesPerSecond: number };
  mkdirSync(join(root, '.cache'), { recursive: true });
  await page.screenshot({ path: join(root, '.cache/demo-map-bench.png') });
  console.log(`demo map, ${devices} simulated vehicles (${result.visible} drawn), headless Chromium with software rendering, ${seconds} s:`);
  console.log(`  frames drawn: ${result.drawnPerSecond.toFixed(1)}/s, ${result.drawMs.toFixed(1)} ms each on average`);
  console.log(`  gap between animation frames: p50 ${result.p50GapMs.toFixed(1)} ms, p99 ${result.p99GapMs.toFixed(1)} ms, max ${result.maxGapMs.toFixed(1)} ms`);
  console.log(`  vehicle updates applied: ${result.updatesPerSecond.toFixed(0)}/s`);
} finally {
  await context.close();
  await node.close();
  rmSync(profile, { recursive: true, force: true });
}
