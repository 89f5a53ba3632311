import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { loadConfig } from '../../engine/config.js';
import { startNode, type FleetlineNode } from '../../engine/fleetline-node.js';

/**
 * The demo page in a real browser: Debian's headless Chromium (`apt-get install chromium`,
 * scripts/services.sh installs it) driven by playwright-core. The page runs on the client SDK,
 * which the engine serves from packages/client/dist: the test builds it first. Screenshot:
 * .cache/demo-browser.png.
 */

const root = fileURLToPath(new URL('../../', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = join(root, '.cache/demo-browser.png');
const DEVICES = 2000;

interface PageState {
  status: string;
  size: number;
  frames: Record<string, number>;
  bbox: number[] | null;
  positions: Record<string, [number, number]>;
  movingShare: number;
}

/** What the page holds now: its markers (by id), the frames its SDK client counted, its subscription. */
function pageState(page: Page): Promise<PageState> {
  return page.evaluate(() => {
    const f = (window as unknown as { fleetline?: { vehicles: Map<string, { lat: number; lon: number; moving: boolean }>; framesByType: Record<string, number>; client: { subscription: { bbox?: number[] } | null } } }).fleetline;
    const positions: Record<string, [number, number]> = {};
    let moving = 0;
    for (const [id, v] of f?.vehicles ?? []) {
      positions[id] = [v.lat, v.lon];
      if (v.moving) moving++;
    }
    const size = f?.vehicles.size ?? 0;
    return {
      status: document.getElementById('status-text')?.textContent ?? '',
      size,
      frames: { ...(f?.framesByType ?? {}) },
      bbox: f?.client.subscription?.bbox ? [...f.client.subscription.bbox] : null,
      positions,
      movingShare: size === 0 ? 0 : moving / size,
    };
  });
}

async function until(page: Page, what: string, cond: (s: PageState) => boolean, timeoutMs = 60_000, detail: () => string = () => ''): Promise<PageState> {
  const deadline = Date.now() + timeoutMs;
  let last: PageState | null = null;
  while (Date.now() < deadline) {
    last = await pageState(page);
    if (cond(last)) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify({ ...last, positions: Object.keys(last?.positions ?? {}).length })} ${detail()}`);
}

describe('#9 the demo map in headless Chromium', () => {
  let node: FleetlineNode;
  let context: BrowserContext;
  let page: Page;
  let profile: string;
  const pageErrors: string[] = [];

  before(async () => {
    execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'packages/client/tsconfig.json')], { stdio: 'inherit' });
    node = await startNode(loadConfig({ FLEETLINE_MODE: 'demo', PORT: '0', DEMO_DEVICES: String(DEVICES), LOG_LEVEL: 'silent' }), pino({ level: 'silent' }));
    profile = mkdtempSync(join(tmpdir(), 'fleetline-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 800 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(60_000);
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(node.url, { waitUntil: 'load', timeout: 120_000 });
  });

  after(async () => {
    await context?.close();
    await node?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it('#9 the page loads on the SDK, connects and shows the vehicles', async () => {
    const s = await until(page, 'the vehicles', (x) => x.status === 'connected' && x.size > DEVICES / 2);
    assert.ok((s.frames.snap ?? 0) >= 1, JSON.stringify(s.frames));
    assert.deepEqual(pageErrors, []);
  });

  it('#9 the vehicles move: their positions change as deltas arrive', async () => {
    const before = await pageState(page);
    const after = await until(page, 'movement', (x) => (x.frames.d ?? 0) > (before.frames.d ?? 0) + 1 && Object.entries(x.positions).filter(([id, p]) => before.positions[id] && (before.positions[id][0] !== p[0] || before.positions[id][1] !== p[1])).length > 50);
    // the panel shows the SDK's update rate (refreshed once a second)
    await page.waitForFunction("Number(document.getElementById('st-ups').textContent) > 0", undefined, { timeout: 60_000 });
    assert.ok(after.size > 0);
  });

  it('#9 zooming and panning move the subscription\'s bbox (after a debounce) and change what is received', async () => {
    const start = await pageState(page);
    for (let i = 0; i < 3; i++) await page.click('#zoom-in');
    const zoomed = await until(page, 'the zoomed-in scope', (x) => x.bbox !== null && start.bbox !== null && x.bbox[0] > start.bbox[0] && (x.frames.gone ?? 0) > (start.frames.gone ?? 0) && x.size < start.size);
    const box = (await page.locator('#map').boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.8, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.2, box.y + box.height / 2, { steps: 12 });
    await page.mouse.up();
    const insideShare = (x: PageState): number => {
      const [w, s, e, n] = x.bbox!;
      const all = Object.values(x.positions);
      return all.filter(([lat, lon]) => lon >= w - 0.01 && lon <= e + 0.01 && lat >= s - 0.01 && lat <= n + 0.01).length / Math.max(1, all.length);
    };
    // the server's answer to the new bbox: gone for what left, entries for what entered
    let seen = '';
    const panned = await until(page, 'the panned scope', (x) => (seen = JSON.stringify({ zoomedBbox: zoomed.bbox, inside: x.bbox && insideShare(x), newIds: Object.keys(x.positions).filter((id) => !(id in zoomed.positions)).length })) !== '' && x.bbox !== null && zoomed.bbox !== null && x.bbox[0] > zoomed.bbox[0]
      // Whether a vehicle the zoomed view lacked stands in the panned one depends on where the
      // simulated fleet happens to be: the server's `gone` and the map inside the new bbox are the answer.
      && (x.frames.gone ?? 0) > (zoomed.frames.gone ?? 0) && insideShare(x) >= 0.95, 60_000, () => seen);
    void seen;
    const gone = (panned.frames.gone ?? 0) - (start.frames.gone ?? 0);
    const d = (panned.frames.d ?? 0) - (start.frames.d ?? 0);
    assert.ok(gone >= 2 && d >= 1, `frames after zoom and pan: gone ${gone}, d ${d}`);
    assert.ok(Object.keys(zoomed.positions).some((id) => !(id in panned.positions)), 'vehicles of the old view left');
  });

  it('#9 unticking stopped and idle hides the stopped vehicles', async () => {
    await page.click('#zoom-fit');
    const before = await until(page, 'stopped vehicles in view', (x) => x.size > 0 && x.movingShare < 1);
    await page.locator('#f-status input[value="stopped"]').uncheck();
    await page.locator('#f-status input[value="idle"]').uncheck();
    const after = await until(page, 'only moving vehicles', (x) => x.size > 0 && x.movingShare === 1);
    assert.ok(after.size < before.size, `${after.size} moving of ${before.size}`);
    assert.match((await page.locator('#sub-desc').textContent()) ?? '', /status moving\/offline/);
  });

  it('#9 clicking a vehicle opens its details', async () => {
    let opened = false;
    for (let attempt = 0; attempt < 10 && !opened; attempt++) {
      const target = await page.evaluate(() => {
        const f = (window as unknown as { fleetline: { vehicles: Map<string, { id: string }>; screenOf(v: unknown): { x: number; y: number } } }).fleetline;
        const canvas = document.getElementById('map')!.getBoundingClientRect();
        for (const v of f.vehicles.values()) {
          const r = f.screenOf(v);
          if (r.x > 40 && r.y > 40 && r.x < canvas.width - 40 && r.y < canvas.height - 40) return { id: v.id, x: canvas.left + r.x, y: canvas.top + r.y };
        }
        return null;
      });
      if (!target) continue;
      await page.mouse.click(target.x, target.y);
      opened = await page.locator('#selection').isVisible();
      if (opened) {
        const details = (await page.locator('#sel-table').textContent()) ?? '';
        assert.match(details, /veh-\d+|~dev/);
        assert.match(details, /speed/);
        assert.ok(await page.locator('#sel-events').isVisible());
      }
    }
    assert.ok(opened, 'the details panel opened');
    mkdirSync(join(root, '.cache'), { recursive: true });
    await page.locator('#selection').scrollIntoViewIfNeeded();
    await page.waitForTimeout(1500); // the panel's counters refresh once a second: show current ones
    await page.screenshot({ path: SCREENSHOT });
    assert.ok(statSync(SCREENSHOT).size > 10_000);
    assert.deepEqual(pageErrors, []);
  });
});
