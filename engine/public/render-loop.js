/*
 * Render scheduling: any change calls requestRender(); the frame is drawn once, in the next
 * animation frame. The drawing itself is plugged in by map-renderer.js (setFrameRenderer), so
 * that the modules which request frames need not import everything a frame draws.
 */

let drawFrame = () => {};
let dirty = false;
let rafPending = false;
/** Smoothed time to draw a frame (ms), for the panel. */
export let renderMs = 0;
/** Frames drawn and the time spent drawing them (ms), for measurements (npm run bench:map). */
export const renderCounters = { frames: 0, totalMs: 0 };

export function setFrameRenderer(draw) {
  drawFrame = draw;
}

export function requestRender() {
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
  drawFrame();
  const dt = performance.now() - t0;
  renderCounters.frames++;
  renderCounters.totalMs += dt;
  renderMs = renderMs === 0 ? dt : renderMs * 0.8 + dt * 0.2;
}
