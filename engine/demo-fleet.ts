import type { Logger } from 'pino';
import type { FleetSnapshot } from '../actors/domain/reference-data.js';
import { demoFleet } from './simulator/demo-fleet.js';
import { RouteSimulator } from './simulator/route-simulator.js';
import type { Config } from './config.js';
import type { TelemetryIntake } from './telemetry-intake.js';

/** The built-in demo: simulated vehicles driving around a city, fed through the normal intake. */
export class DemoFleet {
  private readonly simulator: RouteSimulator;
  private timer: NodeJS.Timeout | null = null;
  private publishing = false;

  constructor(private readonly config: Config) {
    this.simulator = new RouteSimulator({ devices: config.demoDevices, seed: 42 });
  }

  referenceData(): FleetSnapshot {
    return demoFleet(this.config.demoDevices);
  }

  start(intake: TelemetryIntake, log: Logger): void {
    this.timer = setInterval(() => {
      // A tick that is still being appended when the next one is due is skipped, not queued.
      if (this.publishing) return;
      this.publishing = true;
      intake.publish(this.simulator.tick(Date.now()))
        .catch((e: Error) => log.warn({ err: e.message }, 'demo tick not published'))
        .finally(() => { this.publishing = false; });
    }, this.config.demoIntervalMs);
    this.timer.unref();
    log.info({ devices: this.config.demoDevices, intervalMs: this.config.demoIntervalMs }, 'demo simulator running');
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
