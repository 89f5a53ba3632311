import type { ErrorCode } from '../actors/domain/errors.js';
import { FleetlineError } from '../actors/domain/errors.js';
import type { FleetDirectory } from '../actors/fleet-directory.js';
import { bearerToken, type IntakeGrant, type JwtAuth } from './auth.js';

/** Decides, per record, whether its device may be moved: null, or the reason it is refused. */
export type DeviceCheck = (deviceId: string) => ErrorCode | null;

/**
 * Who may move which device through HTTP intake (docs/security.md):
 * - `POST /v1/telemetry` needs a credential: an admin token moves any device, an ingest token
 *   (`role: "ingest"`, `companies`) only devices bound to vehicles of its companies; map-client
 *   tokens are read only.
 * - OsmAnd devices cannot send one (Traccar's model): a report is accepted when its device id
 *   is registered in the reference data.
 * In both, an unbound device passes only when ACCEPT_UNBOUND_DEVICES is on (an ingest
 * credential never moves one). Kafka intake is trusted and checked by routing alone.
 */
export class IntakeCredentials {
  constructor(private readonly auth: JwtAuth, private readonly directory: FleetDirectory) {}

  /** The check for a POST /v1/telemetry; throws UNAUTHORIZED, BAD_TOKEN or FORBIDDEN for the request as a whole. */
  async ofRequest(authorization: string | undefined, query: URLSearchParams): Promise<DeviceCheck> {
    const token = bearerToken(authorization, query);
    if (token === undefined) throw new FleetlineError('UNAUTHORIZED', 'POST /v1/telemetry needs an ingest or admin token (Authorization: Bearer …)');
    return this.check(await this.auth.verifyIntake(token));
  }

  /** The check for OsmAnd reports: the device id must be registered. */
  registeredDevices(): DeviceCheck {
    return this.check({ role: 'admin' });
  }

  private check(grant: IntakeGrant): DeviceCheck {
    const directory = this.directory;
    return (deviceId) => {
      const owner = directory.owner(deviceId);
      if (grant.role === 'ingest') {
        if (!owner.bound || owner.company === null || !grant.companies.has(owner.company)) return 'FORBIDDEN_DEVICE';
        return owner.active ? null : 'INACTIVE_COMPANY';
      }
      if (!owner.bound) return directory.acceptsUnbound ? null : 'UNKNOWN_DEVICE';
      return owner.active ? null : 'INACTIVE_COMPANY';
    };
  }
}
