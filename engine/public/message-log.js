import { el, mapWrap } from './page-elements.js';

export function log(text, isError) {
  const li = document.createElement('li');
  if (isError) li.className = 'err';
  const time = document.createElement('time');
  time.textContent = new Date().toLocaleTimeString();
  li.append(time, document.createTextNode(text));
  el.log.prepend(li);
  while (el.log.childElementCount > 40) el.log.lastElementChild.remove();
  if (isError) console.warn('[fleetline]', text);
}

export function setStatus(kind, text) {
  el.status.className = `status ${kind}`;
  mapWrap.classList.toggle('offline', kind !== 'live');
  el.statusText.textContent = text;
}
