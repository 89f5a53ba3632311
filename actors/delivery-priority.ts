import type { Update } from './delivery-hub.js';

/**
 * How soon a vehicle's pending change goes to a client. `urgent`: an alarm started or ended
 * (the delta carries `alerts`), sent at once like events; `moving`: batched every WS_FLUSH_MS;
 * `stopped`: a vehicle standing still (stopped, idle, offline, or a removal; the delta in which it
 * stops, and any delta that moves its position, is still `moving`), sent every
 * WS_STOPPED_FLUSH_MS and the first to wait when the client falls behind.
 */
export type Priority = 'urgent' | 'moving' | 'stopped';

export const PRIORITIES: readonly Priority[] = ['urgent', 'moving', 'stopped'];

/** The priority of one update; a vehicle entering a client's view is never below `moving` (it must appear). */
export function priorityOf(u: Update, entering: boolean): Priority {
  if (u.delta !== null && u.delta.alerts !== undefined) return 'urgent';
  // Entering, and starting or stopping: the map must show it now, not after the stopped timer.
  if (entering || (u.delta !== null && u.delta.moving !== undefined)) return 'moving';
  // Its position changed: it is moving on the map, whatever the trip logic says yet (a vehicle
  // is "stopped" until 200 m from its stop). A parked one's jitter is snapped, so it never is.
  if (u.delta !== null && (u.delta.lat !== undefined || u.delta.lon !== undefined)) return 'moving';
  return u.view !== null && u.view.moving ? 'moving' : 'stopped';
}

/** A pending entry keeps the highest priority any of its merged changes had. */
export function higher(a: Priority, b: Priority): Priority {
  return PRIORITIES.indexOf(a) <= PRIORITIES.indexOf(b) ? a : b;
}

const MOVING: ReadonlySet<Priority> = new Set(['moving']);
const MOVING_AND_STOPPED: ReadonlySet<Priority> = new Set(['moving', 'stopped']);

/**
 * Which batched classes a flush may send, given the client's unsent bytes. Urgent entries and
 * events are not in it: they go out whatever the backlog (only the hard limit closes the
 * connection). Above `maxBufferedBytes` nothing else is written and changes keep coalescing;
 * above half of it stopped vehicles wait so that moving ones still get through; below it stopped
 * vehicles go out when their slower timer is due.
 */
export function sendableClasses(bufferedBytes: number, maxBufferedBytes: number, stoppedDue: boolean): ReadonlySet<Priority> | null {
  if (bufferedBytes > maxBufferedBytes) return null;
  if (bufferedBytes > maxBufferedBytes / 2 || !stoppedDue) return MOVING;
  return MOVING_AND_STOPPED;
}
