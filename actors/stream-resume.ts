import { FleetlineError } from './domain/errors.js';
import type { VehicleView } from './domain/vehicle-state.js';
import type { Grant } from './ports/client-connection.js';
import type { EngineMetrics } from './ports/engine-metrics.js';
import { PENDING_GONE } from './ports/session-store.js';
import { planResume, type ResumePlan } from './resume-plan.js';
import type { SessionRegistry } from './session-registry.js';
import { SeenSet, type StreamSession } from './stream-session.js';
import { parseSubscription, projectView, type Subscription } from './subscription.js';
import type { SubscriberState } from './subscriber-actor.js';

/** What `resume` needs of its subscriber actor. */
export interface ResumeContext {
  readonly sessions: SessionRegistry | undefined;
  readonly metrics: EngineMetrics;
  send(s: SubscriberState, frame: Record<string, unknown>, type: string): void;
  /** Re-files the connection at the delivery hub under its grant and subscription. */
  refile(s: SubscriberState): void;
  scopeNow(grant: Grant, sub: Subscription): VehicleView[];
  /** Makes `session` the connection's session. */
  adopt(s: SubscriberState, session: StreamSession): void;
  /** Applies the restored subscription's level of detail (rate limit); clusters are sent as a `cl`. */
  detail(s: SubscriberState, grant: Grant, sub: Subscription | null): void;
}

/**
 * `{t:"resume", session, seq, epoch?}` (docs/protocol.md, Resume): restores a stored session's
 * subscription on this connection and sends what the client lacks since `seq` (a partial snap,
 * gone, the missed events), or a full snapshot in a new epoch when that cannot be told, or
 * UNKNOWN_SESSION (nothing else: the client subscribes again).
 */
export async function resumeStream(s: SubscriberState, f: Record<string, unknown>, ctx: ResumeContext): Promise<void> {
  const fresh = s.session;
  if (ctx.sessions === undefined || fresh === null) throw new FleetlineError('BAD_FRAME', 'this endpoint keeps no sessions: send sub');
  if (s.sub !== null || s.seq > 0) throw new FleetlineError('BAD_FRAME', 'resume must come right after ready, before any sub');
  const { session: id, seq, epoch } = f;
  if (typeof id !== 'string' || id.length === 0 || id.length > 64) throw new FleetlineError('BAD_FRAME', 'resume needs the session id named in ready');
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) throw new FleetlineError('BAD_FRAME', 'resume needs seq: the last seq the client applied (an integer >= 0)');
  if (epoch !== undefined && (typeof epoch !== 'number' || !Number.isSafeInteger(epoch) || epoch < 1)) throw new FleetlineError('BAD_FRAME', 'resume epoch must be an integer >= 1');
  const grant = s.grant as Grant;
  let got: Awaited<ReturnType<SessionRegistry['claim']>>;
  try {
    got = await ctx.sessions.claim(id, grant, seq);
  } catch {
    got = null; // the session store is unreachable: the client starts afresh rather than waiting
  }
  if (s.closed) {
    if (got !== null) await ctx.sessions.detach(got.session);
    return;
  }
  if (got === null) {
    ctx.metrics.resumed('UNKNOWN_SESSION');
    ctx.send(s, { t: 'resumed', session: fresh.id, epoch: fresh.epoch, full: true, reason: 'UNKNOWN_SESSION' }, 'resumed');
    return;
  }
  ctx.sessions.discard(fresh);
  const session = got.session;
  ctx.adopt(s, session);
  let sub: Subscription | null = null;
  try {
    sub = got.record.meta.sub === null ? null : parseSubscription(got.record.meta.sub);
  } catch {
    sub = null; // stored under older limits: the client subscribes again after the empty snapshot
  }
  session.sub = sub;
  s.sub = sub;
  // Filed at the hub before the plan reads the recent changes, in the same turn: every event is
  // either among those (sent in the resume) or delivered live after it.
  ctx.refile(s);
  // Cells are recounted whole: a cluster subscription's gap is never served as a partial snap.
  const clusters = sub !== null && sub.lod === 'clusters';
  const scope = sub === null || clusters ? [] : ctx.scopeNow(grant, sub);
  const fields = sub?.fields ?? 'full';
  const plan: ResumePlan = clusters
    ? { served: false, reason: 'EPOCH_CHANGED' }
    : planResume({ record: got.record, seq, ...(epoch !== undefined ? { epoch: epoch as number } : {}), scope, grant, recent: ctx.sessions.recent });
  s.seen = new SeenSet(scope.map((v) => v.id));
  s.seen.maxLeft = ctx.sessions.options.maxEvents;
  if (plan.served) {
    session.rewindTo(seq);
    s.seq = seq;
    for (const goneId of plan.gone) s.seen.left.set(goneId, PENDING_GONE);
    session.subscribed(sub, s.seen, seq);
    ctx.metrics.resumed('resumed');
    ctx.send(s, { t: 'resumed', session: session.id, epoch: session.epoch, seq, full: false }, 'resumed');
    ctx.detail(s, grant, sub);
    if (plan.changed.length > 0) ctx.send(s, { t: 'snap', seq: ++s.seq, partial: true, vehicles: plan.changed.map((v) => projectView(v, fields)) }, 'snap');
    if (plan.gone.length > 0) ctx.send(s, { t: 'gone', seq: ++s.seq, ids: plan.gone }, 'gone');
    if (plan.events.length > 0) ctx.send(s, { t: 'ev', seq: ++s.seq, e: plan.events }, 'ev');
    return;
  }
  session.newEpoch();
  s.seq = 0;
  ctx.metrics.resumed(plan.reason);
  ctx.send(s, { t: 'resumed', session: session.id, epoch: session.epoch, full: true, reason: plan.reason }, 'resumed');
  if (clusters) return ctx.detail(s, grant, sub);
  ctx.detail(s, grant, sub);
  ctx.send(s, { t: 'snap', seq: ++s.seq, vehicles: scope.map((v) => projectView(v, fields)) }, 'snap');
  session.subscribed(sub, s.seen, s.seq);
}
