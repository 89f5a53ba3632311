import { drawBasemap, drawScaleBar } from './basemap.js';
import { canvas } from './page-elements.js';
import { setFrameRenderer } from './render-loop.js';
import { updateTooltip } from './vehicle-details.js';
import { drawHighlights, drawVehicles } from './vehicle-layer.js';
import { dpr } from './viewport.js';

let ctx = null;

/** Takes the canvas's 2D context and lets the render loop draw frames on it. */
export function startRenderer() {
  ctx = canvas.getContext('2d', { alpha: false });
  setFrameRenderer(draw);
}

function draw() {
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  drawBasemap(ctx);
  drawVehicles(ctx);
  drawHighlights(ctx);
  drawScaleBar(ctx);
  updateTooltip();
}
