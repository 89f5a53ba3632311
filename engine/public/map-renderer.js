import { drawBasemap, drawScaleBar } from './basemap.js';
import { client } from './live-stream.js';
import { canvas } from './page-elements.js';
import { requestRender, setFrameRenderer } from './render-loop.js';
import { updateTooltip } from './vehicle-details.js';
import { drawHighlights, drawVehicles } from './vehicle-layer.js';
import { applyChanges } from './vehicle-updates.js';
import { dpr } from './viewport.js';

let ctx = null;

/** Takes the canvas's 2D context and lets the render loop draw frames on it. */
export function startRenderer() {
  ctx = canvas.getContext('2d', { alpha: false });
  setFrameRenderer(draw);
}

/** One animation frame: the stream's changes since the last one, then the whole picture. */
function draw() {
  if (client) applyChanges(client);
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  drawBasemap(ctx);
  const gliding = drawVehicles(ctx);
  drawHighlights(ctx);
  drawScaleBar(ctx);
  updateTooltip();
  if (gliding) requestRender();
}
