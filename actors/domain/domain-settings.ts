/**
 * Every threshold of the vehicle domain (filters, motion, events, status), with its default and
 * why. One table: the deployment's defaults come from it (overridable by the env variable
 * DOMAIN_SETTINGS), companies and vehicles override any of its keys in their `settings` JSON,
 * and docs/configuration.md lists it. A vehicle's settings are resolved once per profile
 * change (FleetDirectory.profile), never per point.
 */
interface Setting<T> {
  readonly default: T;
  readonly doc: string;
  /** Numbers: the accepted range. */
  readonly min?: number;
  readonly max?: number;
  /** Strings: the accepted values. */
  readonly values?: readonly string[];
}

const num = (def: number, min: number, max: number, doc: string): Setting<number> => ({ default: def, min, max, doc });
const flag = (def: boolean, doc: string): Setting<boolean> => ({ default: def, doc });
const choice = <T extends string>(def: T, values: readonly T[], doc: string): Setting<T> => ({ default: def, values, doc });

const DAY_S = 86_400;

export const domainSettingsTable = {
  // Filters (a rejected point is counted by reason in fleetline_points_rejected_total{source="actor"} and not stored).
  filterInvalid: flag(true, 'Reject points the device marks invalid (attribute `valid` false): no fix (INVALID_FIX).'),
  filterZero: flag(true, 'Reject points at exactly 0,0 (ZERO_COORDINATES): an uninitialised receiver, never a place a vehicle is.'),
  filterFutureS: num(DAY_S, 0, 30 * DAY_S, 'Reject points stamped more than this in the future (FUTURE_TIMESTAMP); Traccar\'s default, 24 h. 0: off.'),
  filterPastS: num(0, 0, 3650 * DAY_S, 'Reject points older than this (PAST_TIMESTAMP). 0: off (late data of a device that was out of coverage is welcome).'),
  reorderWindowS: num(5, 0, 300, 'Points that arrive out of order by up to this (point time) are put in order before trips, stops, events and the odometer see them; older ones are late (repair only). Events wait until their point is this old or the vehicle was silent this long. 0: off (events at once, every older point is late).'),
  futureToleranceS: num(300, 0, DAY_S, 'A point stamped more than this after it was received is stored in history but never becomes the live position: a device clock running ahead must not freeze the vehicle (every later real point would look old).'),
  filterMaxSpeedKmh: num(600, 0, 5000, 'Reject a point whose implied speed from the previous one exceeds this (IMPOSSIBLE_JUMP): a GPS jump. 0: off.'),
  filterMaxHdop: num(0, 0, 100, 'Reject points whose `hdop` attribute exceeds this (LOW_ACCURACY). 0: off.'),
  filterMinSatellites: num(0, 0, 64, 'Reject points whose `sat`/`satellites` attribute is below this (LOW_ACCURACY). 0: off.'),
  filterMaxAccuracyM: num(0, 0, 100_000, 'Reject points whose `accuracy` attribute (metres) exceeds this (LOW_ACCURACY). 0: off.'),
  filterMinPeriodS: num(0, 0, DAY_S, 'Reject a point less than this after the previous one (MIN_PERIOD), unless its ignition changed. 0: off.'),
  filterMinDistanceM: num(0, 0, 100_000, 'Reject a point closer than this to the previous one (MIN_DISTANCE), unless its ignition changed. 0: off.'),
  jitterRadiusM: num(20, 0, 1000, 'A point this close to the previous position, not reporting a moving speed, is snapped to it (Traccar\'s coordinates.filter): GPS jitter at a standstill never moves the vehicle. 0: off.'),
  // Odometer and motion.
  ignoreDeviceOdometer: flag(false, 'Count the odometer from great-circle distances even when the device reports one (Traccar\'s report.ignoreOdometer).'),
  motionLogic: choice('current', ['current', 'legacy'] as const, '`current`: Traccar\'s current trip logic (tripMinDistanceM 200, stopMinDurationS 180, tripGapS 3600). `legacy`: its older thresholds (500 m, 300 s, gap 300 s) whatever the three keys say.'),
  movingSpeedKmh: num(3, 0, 100, 'A reported speed at or above this counts as moving for jitter snapping (a point that says it moves is never snapped).'),
  tripMinDistanceM: num(200, 1, 100_000, 'A stopped vehicle starts a trip once this far from where it stopped.'),
  stopMinDurationS: num(180, 1, DAY_S, 'A moving vehicle stops once it has stayed within tripMinDistanceM of one position this long.'),
  tripGapS: num(3600, 60, 30 * DAY_S, 'No data for this long ends a trip at its last point (the next point starts afresh).'),
  // Events.
  speedLimitKmh: num(0, 0, 1000, 'Overspeed limit of vehicles whose reference data names none. 0: none.'),
  overspeedToleranceKmh: num(0, 0, 100, 'Overspeed means speed above the limit plus this.'),
  overspeedMinDurationS: num(10, 0, 3600, 'overspeed_start fires once the speed stayed over the limit this long; overspeed_end once it stayed at or under it this long (no flapping around the limit).'),
  idleMinDurationS: num(120, 0, DAY_S, 'idle_start fires once the ignition stayed on this long while stopped.'),
  fuelWindow: num(5, 1, 32, 'Fuel readings smoothed (median) before refuel and drain are judged: one noisy reading is neither.'),
  fuelRefuelMin: num(10, 0.1, 100_000, 'A rise of the smoothed fuel level by at least this (litres or %, as the device reports) while stopped is fuel_refuel.'),
  fuelDrainMin: num(10, 0.1, 100_000, 'A fall of the smoothed fuel level by at least this while stopped is fuel_drain.'),
  offlineTimeoutS: num(600, 10, 30 * DAY_S, 'A vehicle with no point received for this long goes offline (device_offline), checked by the shard\'s timer.'),
  driverAttribute: { default: 'driverUniqueId', doc: 'The point attribute naming the driver: a new value fires driver_changed.' } as Setting<string>,
} as const;

type Table = typeof domainSettingsTable;
export type DomainSettings = { readonly [K in keyof Table]: Table[K]['default'] };
export type SettingsOverride = Partial<DomainSettings>;
export type SettingKey = keyof DomainSettings;

export const DEFAULT_SETTINGS: DomainSettings = Object.freeze(
  Object.fromEntries(Object.entries(domainSettingsTable).map(([k, s]) => [k, s.default])) as DomainSettings,
);

const LEGACY = { tripMinDistanceM: 500, stopMinDurationS: 300, tripGapS: 300 } as const;

/** The settings in force: the deployment's, then the company's, then the vehicle's (later wins). */
export function resolveSettings(base: DomainSettings, ...overrides: readonly (SettingsOverride | undefined)[]): DomainSettings {
  let out = base;
  for (const o of overrides) if (o !== undefined && Object.keys(o).length > 0) out = { ...out, ...o };
  if (out.motionLogic === 'legacy') out = { ...out, ...LEGACY };
  return out === base ? base : Object.freeze(out);
}

/**
 * Validates a `settings` object from reference data or DOMAIN_SETTINGS. Never throws: unknown
 * keys and bad values are left out and named in `problems` (the caller logs them).
 */
export function parseSettingsOverride(raw: unknown): { readonly value: SettingsOverride; readonly problems: string[] } {
  const problems: string[] = [];
  const value: Record<string, unknown> = {};
  if (raw === undefined || raw === null) return { value, problems };
  if (typeof raw !== 'object' || Array.isArray(raw)) return { value, problems: ['settings must be a JSON object'] };
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    const s = (domainSettingsTable as Record<string, Setting<unknown>>)[k];
    if (s === undefined) {
      problems.push(`${k}: unknown setting`);
      continue;
    }
    const problem = check(s, v);
    if (problem === null) value[k] = v;
    else problems.push(`${k}: ${problem}`);
  }
  return { value: value as SettingsOverride, problems };
}

function check(s: Setting<unknown>, v: unknown): string | null {
  const def = s.default;
  if (typeof def === 'boolean') return typeof v === 'boolean' ? null : 'must be true or false';
  if (typeof def === 'number') {
    if (typeof v !== 'number' || !Number.isFinite(v)) return 'must be a number';
    if ((s.min !== undefined && v < s.min) || (s.max !== undefined && v > s.max)) return `must be in [${s.min}, ${s.max}]`;
    return null;
  }
  if (typeof v !== 'string' || v.length === 0 || v.length > 64) return 'must be a string of 1-64 characters';
  if (s.values !== undefined && !s.values.includes(v)) return `must be one of ${s.values.join(', ')}`;
  return null;
}

/** The Markdown table of these settings (a section of docs/configuration.md). */
export function domainSettingsReference(): string[] {
  return Object.entries(domainSettingsTable).map(([k, s]: [string, Setting<unknown>]) => {
    const range = s.values ? ` (${s.values.join(' \\| ')})` : s.min !== undefined ? ` [${s.min}–${s.max}]` : '';
    return `| \`${k}\` | \`${String(s.default)}\`${range} | ${s.doc} |`;
  });
}
