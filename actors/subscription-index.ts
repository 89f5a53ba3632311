import RBush from 'rbush';
import type { Grant } from './ports/client-connection.js';
import type { GroupMembership, Subscription } from './subscription.js';

interface Box<T> {
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
  target: T;
  /** The company whose R-tree holds it (ANY_COMPANY: a subscription that sees every company). */
  company: string;
}

/** The R-tree of boxes that see every company (admin subscriptions without a company selector). */
const ANY_COMPANY = '\u0000any';

/** Where a subscription is filed: under exactly one of its selectors, the most selective one. */
type Anchor<T> =
  | { readonly kind: 'vehicles' | 'groups' | 'companies'; readonly keys: readonly string[] }
  | { readonly kind: 'bbox'; readonly boxes: readonly Box<T>[] }
  | { readonly kind: 'all' };

/** A position that may have matched a subscription: the vehicle's id, company and where it is (or was). */
export interface Place {
  readonly id: string;
  readonly company: string | null;
  readonly lon: number;
  readonly lat: number;
}

/**
 * Which subscribers may care about a vehicle, without a loop over every subscriber. Since a
 * subscription's selectors combine with AND, a vehicle in its scope passes each of them: the
 * subscription is filed under one (vehicle ids, else groups, else the bbox in an R-tree of
 * subscriber boxes, else companies, else "every vehicle the grant allows"), and a lookup returns
 * the subscriptions filed under the vehicle's id, groups, company and position. They are
 * candidates: the caller still tests the full scope (grant, every selector, filters).
 */
export class SubscriptionIndex<T> {
  private readonly anchors = new Map<T, Anchor<T>>();
  private readonly all = new Set<T>();
  private readonly byVehicle = new Map<string, Set<T>>();
  private readonly byGroup = new Map<string, Set<T>>();
  private readonly byCompany = new Map<string, Set<T>>();
  /** Subscriber boxes per company: a vehicle is looked up among the boxes that may see its company only. */
  private readonly boxes = new Map<string, RBush<Box<T>>>();
  private readonly boxCounts = new Map<string, number>();
  private readonly scratch = { minX: 0, minY: 0, maxX: 0, maxY: 0 };

  constructor(private readonly membership: GroupMembership) {}

  get size(): number {
    return this.anchors.size;
  }

  /** Files `target` under its subscription (replacing what it had); null removes it. */
  set(target: T, grant: Grant, sub: Subscription | null): void {
    this.remove(target);
    if (sub === null) return;
    const anchor = anchorOf<T>(target, grant, sub);
    this.anchors.set(target, anchor);
    switch (anchor.kind) {
      case 'vehicles': for (const k of anchor.keys) add(this.byVehicle, k, target); break;
      case 'groups': for (const k of anchor.keys) add(this.byGroup, k, target); break;
      case 'companies': for (const k of anchor.keys) add(this.byCompany, k, target); break;
      case 'bbox':
        for (const b of anchor.boxes) {
          let tree = this.boxes.get(b.company);
          if (tree === undefined) this.boxes.set(b.company, (tree = new RBush<Box<T>>(16)));
          tree.insert(b);
          this.boxCounts.set(b.company, (this.boxCounts.get(b.company) ?? 0) + 1);
        }
        break;
      case 'all': this.all.add(target); break;
    }
  }

  remove(target: T): void {
    const anchor = this.anchors.get(target);
    if (anchor === undefined) return;
    this.anchors.delete(target);
    switch (anchor.kind) {
      case 'vehicles': for (const k of anchor.keys) drop(this.byVehicle, k, target); break;
      case 'groups': for (const k of anchor.keys) drop(this.byGroup, k, target); break;
      case 'companies': for (const k of anchor.keys) drop(this.byCompany, k, target); break;
      case 'bbox':
        for (const b of anchor.boxes) {
          const tree = this.boxes.get(b.company);
          if (tree === undefined) continue;
          tree.remove(b);
          const left = (this.boxCounts.get(b.company) ?? 1) - 1;
          if (left > 0) this.boxCounts.set(b.company, left);
          else {
            this.boxCounts.delete(b.company);
            this.boxes.delete(b.company);
          }
        }
        break;
      case 'all': this.all.delete(target); break;
    }
  }

  /** Calls `visit` for each subscription filed under `place` (a target may be visited more than once). */
  candidates(place: Place, visit: (t: T) => void): void {
    for (const t of this.all) visit(t);
    if (this.byVehicle.size > 0) this.byVehicle.get(place.id)?.forEach(visit);
    if (place.company !== null && this.byCompany.size > 0) this.byCompany.get(place.company)?.forEach(visit);
    if (this.byGroup.size > 0) {
      const groups = this.membership.groupsOf(place.id);
      if (groups !== undefined) for (const g of groups) this.byGroup.get(g)?.forEach(visit);
    }
    if (this.boxes.size > 0) {
      const q = this.scratch;
      q.minX = q.maxX = place.lon;
      q.minY = q.maxY = place.lat;
      const any = this.boxes.get(ANY_COMPANY);
      if (any !== undefined) for (const b of any.search(q)) visit(b.target);
      const own = place.company === null ? undefined : this.boxes.get(place.company);
      if (own !== undefined) for (const b of own.search(q)) visit(b.target);
    }
  }
}

function anchorOf<T>(target: T, grant: Grant, sub: Subscription): Anchor<T> {
  if (sub.vehicles) return { kind: 'vehicles', keys: [...sub.vehicles] };
  if (sub.groups) return { kind: 'groups', keys: [...sub.groups] };
  const companies = companiesOf(grant, sub);
  if (sub.bbox) {
    const [w, s, e, n] = sub.bbox;
    const parts = w <= e ? [[w, e]] : [[w, 180], [-180, e]];
    const boxes: Box<T>[] = [];
    for (const company of companies ?? [ANY_COMPANY]) {
      for (const [minX, maxX] of parts) boxes.push({ minX, minY: s, maxX, maxY: n, target, company });
    }
    return { kind: 'bbox', boxes };
  }
  return companies === null ? { kind: 'all' } : { kind: 'companies', keys: companies };
}

/** The companies a subscription may see (its selector within its grant); null: every company. */
function companiesOf(grant: Grant, sub: Subscription): string[] | null {
  if (sub.companies) return grant === null ? [...sub.companies] : [...sub.companies].filter((c) => grant.has(c));
  return grant === null ? null : [...grant];
}

function add<T>(m: Map<string, Set<T>>, k: string, t: T): void {
  let s = m.get(k);
  if (s === undefined) m.set(k, (s = new Set()));
  s.add(t);
}

function drop<T>(m: Map<string, Set<T>>, k: string, t: T): void {
  const s = m.get(k);
  if (s?.delete(t) && s.size === 0) m.delete(k);
}
