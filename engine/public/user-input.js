/*
 * What the user does with the map: drag to pan, wheel / double-click / keys / buttons to zoom,
 * hover and click vehicles; the panel's selection and event list; URL hash and window size.
 */

import { $, canvas, el } from './page-elements.js';
import { fitAllByUser, onViewChanged, zoomAt } from './navigation.js';
import { clamp } from './projection.js';
import { select, setHover } from './vehicle-details.js';
import { hitTest } from './vehicle-layer.js';
import { vehicles } from './vehicles.js';
import { cssH, cssW, readHash, resize, view, worldPx } from './viewport.js';

export function bindUserInput() {
  let pointer = null; // {x, y} in CSS px over the canvas, while the pointer is over it
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
  $('zoom-fit').addEventListener('click', () => fitAllByUser());
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
}
