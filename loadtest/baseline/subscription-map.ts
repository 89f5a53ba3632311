import type { Subscription } from '../../actors/subscription.js';
import type { Grant } from '../../actors/ports/client-connection.js';

/** What the map needs of a client: the companies its subscription can ever match. */
export interface Subscriber {
  readonly grant: Grant;
  readonly subscription: Subscription | null;
}

/**
 * The realtime service's in-memory subscription map: subscribed clients indexed by the
 * companies they may match, so an update is offered only to clients of its company (and to
 * clients that may see every company).
 */
export class SubscriptionMap<C extends Subscriber> {
  private readonly byCompany = new Map<string, Set<C>>();
  private readonly everyCompany = new Set<C>();
  private readonly indexed = new Map<C, readonly string[] | null>();

  /** (Re)indexes a client after its subscription or grant changed. */
  set(client: C): void {
    this.remove(client);
    const sub = client.subscription;
    if (sub === null) return;
    let companies: string[] | null;
    if (client.grant === null) companies = sub.companies ? [...sub.companies] : null;
    else companies = [...client.grant].filter((c) => !sub.companies || sub.companies.has(c));
    this.indexed.set(client, companies);
    if (companies === null) {
      this.everyCompany.add(client);
      return;
    }
    for (const c of companies) {
      let set = this.byCompany.get(c);
      if (set === undefined) this.byCompany.set(c, (set = new Set()));
      set.add(client);
    }
  }

  remove(client: C): void {
    const companies = this.indexed.get(client);
    if (companies === undefined) return;
    this.indexed.delete(client);
    if (companies === null) this.everyCompany.delete(client);
    else for (const c of companies) {
      const set = this.byCompany.get(c);
      set?.delete(client);
      if (set?.size === 0) this.byCompany.delete(c);
    }
  }

  /** Calls `f` for every client whose subscription may match a vehicle of `company`. */
  forCandidates(company: string | null, f: (client: C) => void): void {
    if (company !== null) {
      const set = this.byCompany.get(company);
      if (set !== undefined) for (const c of set) f(c);
    }
    for (const c of this.everyCompany) f(c);
  }

  get size(): number {
    return this.indexed.size;
  }
}
