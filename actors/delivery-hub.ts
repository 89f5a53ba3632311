import type { VehicleDelta, VehicleView } from './domain/vehicle-state.js';
import type { VehicleEvent } from './domain/vehicle-event.js';
import type { Grant } from './ports/client-connection.js';
import type { EntryCache } from './shared-entries.js';
import type { FlushPace } from './flush-pace.js';
import { RecentEventIds } from './recent-event-ids.js';
import type { RecentChanges } from './recent-changes.js';
import { SubscriptionIndex } from './subscription-index.js';
import { NO_GROUPS, type GroupMembership, type Subscription } from './subscription.js';

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
  /** Filled by the first subscriber that sends the update: its encoded entries, shared by all (actors/shared-entries.ts). */
  wire?: EntryCache;
}

export interface DeliveryTarget {
  readonly grant: Grant;
  /**
   * What the target subscribed to: null for nothing (it gets no updates), undefined for every
   * vehicle its grant allows. After changing it, call attach() again to re-file the target.
   */
  readonly sub?: Subscription | null;
  deliver(updates: Update[], events: VehicleEvent[]): void;
}

const EVERYTHING: Subscription = { fields: 'full' };

/** How long changes are gathered before routing at a flush interval of `flushMs`: none until it is stretched past 80 ms, then an eighth of it. */
export function gatherMs(flushMs: number): number {
  return flushMs >= 80 ? Math.round(flushMs / 8) : 0;
}

interface Slot {
  u: Update[];
  e: VehicleEvent[];
  /** The update or event (by its number in this drain) last added, so a target visited twice gets it once. */
  mark: number;
}

/**
 * Fans vehicle changes out to subscribers. Changes are gathered for one event-loop turn and
 * routed through a SubscriptionIndex: an update reaches only the subscribers whose subscription
 * may hold the vehicle where it is now or where it was before (so a vehicle leaving a bbox is
 * still seen by those who had it), never a loop over every subscriber. Each subscriber gets one
 * message per turn however many vehicles changed, and then tests the exact scope itself (grant,
 * filters). Each event reaches the subscribers once, however often its points are replayed.
 */
export class DeliveryHub {
  private readonly index: SubscriptionIndex<DeliveryTarget>;
  /** Each vehicle's last routed view: where it was, for the next update's "before". */
  private readonly last = new Map<string, VehicleView>();
  private updates: Update[] = [];
  private events: VehicleEvent[] = [];
  /** A drain is due: at the next turn, or when the gathering timer fires. */
  private scheduled: 'now' | 'gathering' | null = null;
  private gatherTimer: NodeJS.Timeout | null = null;
  private readonly recentEvents: RecentEventIds;

  /**
   * `recent` records what was routed, for resumes (actors/recent-changes.ts). `pace`: the
   * node's flush interval; while it is stretched (a busy node), changes are gathered over a
   * few turns (gatherMs) before they are routed, since every drain costs a call, a slot and a
   * batch per subscriber it touches whatever it carries. Events and alarms are routed at once.
   */
  constructor(recentEventIds = RECENT_EVENT_IDS, membership: GroupMembership = NO_GROUPS, private readonly recent?: RecentChanges, private readonly pace?: FlushPace) {
    this.recentEvents = new RecentEventIds(recentEventIds);
    this.index = new SubscriptionIndex(membership);
  }

  /** Files a target under its grant and subscription, or re-files it after either changed. */
  attach(t: DeliveryTarget): void {
    this.index.set(t, t.grant, t.sub === undefined ? EVERYTHING : t.sub);
  }

  detach(t: DeliveryTarget): void {
    this.index.remove(t);
  }

  get targets(): number {
    return this.index.size;
  }

  /**
   * A subscriber took these views from the state index (a snapshot): the vehicles it now shows
   * are where those views say. Vehicles restored without an update were never routed here, and
   * their next update must still find the subscribers that show them.
   */
  shown(views: readonly VehicleView[]): void {
    for (const v of views) if (!this.last.has(v.id)) this.last.set(v.id, v);
  }

  publish(u: Update): void {
    this.updates.push(u);
    this.schedule(u.delta !== null && u.delta.alerts !== undefined);
  }

  /** Queues an event for its subscribers; an id delivered recently (a replay) is dropped. */
  publishEvent(e: VehicleEvent): void {
    if (!this.recentEvents.firstTime(e.id)) return;
    this.events.push(e);
    this.schedule(true);
  }

  private schedule(urgent: boolean): void {
    const gather = urgent || this.pace === undefined ? 0 : gatherMs(this.pace.ms);
    if (this.scheduled === 'now' || (this.scheduled === 'gathering' && gather > 0)) return;
    if (this.gatherTimer !== null) clearTimeout(this.gatherTimer);
    this.gatherTimer = null;
    if (gather === 0) {
      this.scheduled = 'now';
      setImmediate(() => this.drain());
    } else {
      this.scheduled = 'gathering';
      this.gatherTimer = setTimeout(() => this.drain(), gather);
    }
  }

  private drain(): void {
    if (this.scheduled === null) return;
    if (this.gatherTimer !== null) clearTimeout(this.gatherTimer);
    this.gatherTimer = null;
    this.scheduled = null;
    const updates = this.updates;
    const events = this.events;
    this.updates = [];
    this.events = [];
    const perTarget = new Map<DeliveryTarget, Slot>();
    let n = 0;
    const slot = (t: DeliveryTarget): Slot | null => {
      let s = perTarget.get(t);
      if (s === undefined) perTarget.set(t, (s = { u: [], e: [], mark: 0 }));
      else if (s.mark === n) return null;
      s.mark = n;
      return s;
    };
    const visitUpdate = (t: DeliveryTarget): void => { slot(t)?.u.push(updates[n - 1]); };
    for (const u of updates) {
      n++;
      this.recent?.updated(u);
      const before = this.last.get(u.id);
      if (u.view !== null) {
        this.last.set(u.id, u.view);
        this.index.candidates(u.view, visitUpdate);
      } else {
        this.last.delete(u.id);
      }
      if (before !== undefined && (u.view === null || before.lat !== u.view.lat || before.lon !== u.view.lon || before.company !== u.view.company)) {
        this.index.candidates(before, visitUpdate);
      } else if (before === undefined && u.view === null) {
        this.index.candidates({ id: u.id, company: u.company, lon: NaN, lat: NaN }, visitUpdate);
      }
    }
    for (const e of events) {
      n++;
      this.recent?.evented(e);
      const visit = (t: DeliveryTarget): void => { slot(t)?.e.push(e); };
      const at = this.last.get(e.vehicleId);
      this.index.candidates(at !== undefined && at.company === e.company ? at : { id: e.vehicleId, company: e.company, lon: e.lon, lat: e.lat }, visit);
    }
    for (const [t, s] of perTarget) t.deliver(s.u, s.e);
  }
}
