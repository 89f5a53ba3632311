import { dispatch, type Ref } from 'nact';
import { spawnSubscriber, type SubscriberDeps } from '../actors/subscriber-actor.js';
import type { WsConnection, WsHandlers, WsSession, WsUpgrade } from '../actors/ports/transport.js';

/**
 * `GET /v1/stream`: each WebSocket connection gets its own subscriber actor; the transport
 * only moves bytes.
 */
export class StreamEndpoint implements WsHandlers {
  private open_ = 0;
  private nextId = 0;

  constructor(private readonly system: Ref<unknown>, private readonly deps: SubscriberDeps) {}

  get connections(): number {
    return this.open_;
  }

  open(conn: WsConnection, upgrade: WsUpgrade): WsSession {
    this.open_++;
    const ref = spawnSubscriber(this.system, `ws-${++this.nextId}`, conn, this.deps);
    dispatch(ref, { kind: 'open', token: upgrade.query.get('token') ?? undefined });
    let closed = false;
    return {
      message: (data, isBinary) => {
        if (!closed) dispatch(ref, { kind: 'frame', data, isBinary });
      },
      drain: () => {
        if (!closed) dispatch(ref, { kind: 'flush' });
      },
      limited: (code) => this.deps.metrics.clientError(code),
      closed: () => {
        if (closed) return;
        closed = true;
        this.open_--;
        dispatch(ref, { kind: 'closed' });
      },
    };
  }
}
