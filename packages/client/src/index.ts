/**
 * @fleetline/client: the client SDK of Fleetline's live stream (/v1/stream), for browsers and Node.
 *
 *   const client = new FleetlineClient({ url: 'http://localhost:8080', token, subscription: { companies: ['acme'] } });
 *   client.on('update', () => draw(client.takeChanges()));
 *   await client.connect();
 *
 * The README's "Client SDK" section has the whole guide; docs/protocol.md the wire protocol.
 */
export { FleetlineClient, streamUrl } from './fleetline-client.js';
export type { ClientEvents, ConnectionState, FleetlineClientOptions, ResumeOutcome, StateChange, TokenSource } from './fleetline-client.js';
export { CloseCode, StreamErrorCode } from './protocol.js';
export type { BBox, ClientFrame, MotionStatus, ResumeFailure, ServerFrame, Subscription, VehicleDelta, VehicleEvent, VehicleState } from './protocol.js';
export type { ClientStats } from './stream-stats.js';
export type { VehicleChanges } from './vehicle-store.js';
export type { BackoffOptions } from './backoff.js';
export type { WebSocketImpl } from './web-socket.js';
