/*
 * The panel's subscription controls: companies, groups, status classes and "alerts only". The
 * choices the token allows come from the admin reference API when the token is admin (the demo's
 * is), else from the companies `ready` named; groups need the admin API.
 */

import { colourOf, colourIndex } from './company-legend.js';
import { el } from './page-elements.js';

const STATUSES = ['moving', 'stopped', 'idle', 'offline'];
let groups = []; // {id, companyId, name}
let onChange = () => {};

/** What the controls select, as subscription fields (none selected or all selected: no restriction). */
export function formSubscription() {
  const sub = {};
  const companies = checked(el.companies);
  const allCompanies = el.companies.querySelectorAll('input').length;
  if (companies.length > 0 && companies.length < allCompanies) sub.companies = companies;
  const chosenGroups = [...el.groups.selectedOptions].map((o) => o.value);
  if (chosenGroups.length > 0) sub.groups = chosenGroups;
  const status = checked(el.statusFilter);
  const filter = {};
  if (status.length < STATUSES.length) filter.status = status;
  if (el.alertsOnly.checked) filter.alerts = true;
  if (Object.keys(filter).length > 0) sub.filter = filter;
  return sub;
}

export function describeSubscription(sub) {
  if (!sub) return 'subscription: none';
  const parts = [];
  if (sub.companies) parts.push(`companies ${sub.companies.join(', ')}`);
  if (sub.groups) parts.push(`${sub.groups.length} group${sub.groups.length > 1 ? 's' : ''}`);
  if (sub.filter && sub.filter.status) parts.push(`status ${sub.filter.status.join('/') || 'none'}`);
  if (sub.filter && sub.filter.alerts) parts.push('alerts only');
  if (sub.bbox) parts.push(`bbox [${sub.bbox.map((n) => n.toFixed(3)).join(', ')}]`);
  return `subscription: ${parts.length ? parts.join(' · ') : 'everything this token allows'}`;
}

/** Wires the controls; `changed` is called on every change (it resubscribes). */
export function bindSubscriptionForm(changed) {
  onChange = changed;
  for (const s of STATUSES) el.statusFilter.append(checkbox(s, s, true));
  el.statusFilter.addEventListener('change', () => onChange());
  el.alertsOnly.addEventListener('change', () => onChange());
  el.companies.addEventListener('change', () => {
    fillGroups();
    onChange();
  });
  el.groups.addEventListener('change', () => onChange());
}

/** Fills the company and group choices for the stream's token (called on every `ready`). */
export async function loadChoices(client, token) {
  let companies = client.companies === null ? [] : [...(client.companies ?? [])];
  groups = [];
  if (client.companies === null && token) {
    const headers = { authorization: `Bearer ${token}`, accept: 'application/json' };
    const [c, g] = await Promise.all([
      fetch('v1/admin/companies', { headers }).then((r) => (r.ok ? r.json() : null)).catch(() => null),
      fetch('v1/admin/groups', { headers }).then((r) => (r.ok ? r.json() : null)).catch(() => null),
    ]);
    if (c && Array.isArray(c.companies)) companies = c.companies.filter((x) => x.active !== false).map((x) => x.id);
    if (g && Array.isArray(g.groups)) groups = g.groups.map(({ id, companyId, name }) => ({ id, companyId, name }));
  }
  const before = new Set(checked(el.companies));
  const keep = before.size > 0;
  el.companies.textContent = '';
  for (const id of companies.sort()) {
    const box = checkbox(id, id, keep ? before.has(id) : true);
    const sw = document.createElement('span');
    sw.className = 'sw';
    sw.style.background = colourOf(colourIndex(id));
    box.prepend(sw);
    el.companies.append(box);
  }
  fillGroups();
}

function fillGroups() {
  const chosen = new Set([...el.groups.selectedOptions].map((o) => o.value));
  const companies = new Set(checked(el.companies));
  el.groups.textContent = '';
  for (const g of groups) {
    if (!companies.has(g.companyId)) continue;
    const o = document.createElement('option');
    o.value = g.id;
    o.textContent = `${g.name} (${g.companyId})`;
    o.selected = chosen.has(g.id);
    el.groups.append(o);
  }
  el.groups.disabled = el.groups.options.length === 0;
}

function checked(container) {
  return [...container.querySelectorAll('input:checked')].map((i) => i.value);
}

function checkbox(value, text, on) {
  const label = document.createElement('label');
  label.className = 'check';
  const input = document.createElement('input');
  input.type = 'checkbox';
  input.value = value;
  input.checked = on;
  input.dataset.value = value;
  label.append(input, document.createTextNode(` ${text}`));
  return label;
}
