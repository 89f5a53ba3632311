/**
 * Device attributes: the flat map of values a device reports beyond the position (Traccar's
 * names: batteryLevel, fuel, rpm, driverUniqueId, …). Bounded by validatePoint (at most 32
 * entries, names up to 64 characters, text up to 256): a vehicle view carries its latest map.
 */
export type Attributes = Readonly<Record<string, string | number | boolean>>;

/**
 * The attributes a vehicle shows after a point: the point's own map replaces the last one (as
 * Traccar's latest position does), a point without any keeps it. An equal map keeps the old
 * object, so a delta compares attributes by reference and carries them only when they changed.
 */
export function latestAttributes(previous: Attributes | undefined, reported: Attributes | undefined): Attributes | undefined {
  if (reported === undefined || previous === undefined) return reported ?? previous;
  let count = 0;
  for (const key in reported) {
    if (previous[key] !== reported[key]) return reported;
    count++;
  }
  return Object.keys(previous).length === count ? previous : reported;
}
