import type { VehicleDelta, VehicleView } from './domain/vehicle-state.js';
import type { VehicleEvent } from './domain/vehicle-event.js';
import type { Grant } from './ports/client-connection.js';
import { RecentEventIds } from './recent-event-ids.js';

/**
 * Event ids a node remembers to drop repeats: replays re-emit an event within seconds of a
 * hand-off, or about a session timeout (30 s) after a crash. 100k ids (about 10 MB) cover that
 * at a few thousand events per second.
 */
const RECENT_EVENT_IDS = 100_000;

/** One change to deliver: a delta with the vehicle's current view, or a removal (view null). */
export interface Update {
  readonly id: string;
  readonly company: string | null;
  readonly delta: VehicleDelta | null;
  readonly view: VehicleView | null;
  /** When the point entered the engine (ms), for the delivery latency histogram. */
  readonly receivedAt: number;
}

export interface DeliveryTarget {
  readonly grant: Grant;
  deliver(updates: Update[], events: VehicleEvent[]): void;
}

/**
 * Fans vehicle changes out to subscribers. Changes are gathered for one event-loop turn and
 * routed by tenant (company → subscribers), so each subscriber gets one message per turn
 * however many vehicles changed, and never sees a company its token does not grant. Each event
 * reaches the subscribers once, however often its vehicle's points are replayed.
 */
export class DeliveryHub {
  private readonly admins = new Set<DeliveryTarget>();
  private readonly byCompany = new Map<string, Set<DeliveryTarget>>();
  private updates: Update[] = [];
  private events: VehicleEvent[] = [];
  private scheduled = false;
  private readonly recentEvents: RecentEventIds;

  constructor(recentEventIds = RECENT_EVENT_IDS) {
    this.recentEvents = new RecentEventIds(recentEventIds);
  }

  attach(t: DeliveryTarget): void {
    if (t.grant === null) {
      this.admins.add(t);
      return;
    }
    for (const c of t.grant) {
      let set = this.byCompany.get(c);
      if (!set) this.byCompany.set(c, (set = new Set()));
      set.add(t);
    }
  }

  detach(t: DeliveryTarget): void {
    this.admins.delete(t);
    if (t.grant === null) return;
    for (const c of t.grant) {
      const set = this.byCompany.get(c);
      // An empty set would keep drain() from skipping a company nobody watches.
      if (set?.delete(t) && set.size === 0) this.byCompany.delete(c);
    }
  }

  publish(u: Update): void {
    this.updates.push(u);
    this.schedule();
  }

  /** Queues an event for its subscribers; an id delivered recently (a replay) is dropped. */
  publishEvent(e: VehicleEvent): void {
    if (!this.recentEvents.firstTime(e.id)) return;
    this.events.push(e);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.drain());
  }

  private drain(): void {
    this.scheduled = false;
    const updates = this.updates;
    const events = this.events;
    this.updates = [];
    this.events = [];
    if (this.admins.size === 0 && this.byCompany.size === 0) return;
    const perTarget = new Map<DeliveryTarget, { u: Update[]; e: VehicleEvent[] }>();
    const slot = (t: DeliveryTarget) => {
      let s = perTarget.get(t);
      if (!s) perTarget.set(t, (s = { u: [], e: [] }));
      return s;
    };
    for (const u of updates) {
      for (const t of this.admins) slot(t).u.push(u);
      if (u.company !== null) {
        const set = this.byCompany.get(u.company);
        if (set) for (const t of set) slot(t).u.push(u);
      }
    }
    for (const e of events) {
      for (const t of this.admins) slot(t).e.push(e);
      if (e.company !== null) {
        const set = this.byCompany.get(e.company);
        if (set) for (const t of set) slot(t).e.push(e);
      }
    }
    for (const [t, s] of perTarget) t.deliver(s.u, s.e);
  }
}
