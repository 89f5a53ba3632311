/**
 * Every request of Traccar's OsmAnd decoder test suite, as data, with what Traccar decodes
 * from it.
 *
 * Requests: traccar/traccar, src/test/java/org/traccar/protocol/OsmAndProtocolDecoderTest.java
 * at commit 24157c0a2eb94fd6b1d6ed6698d6aedb492d288a (testDecodeJson: 4 requests,
 * testDecodeQuery: 11), copied byte for byte (Java string escapes undone).
 *
 * Expected decodings follow Traccar's decoder, OsmAndProtocolDecoder.java:
 * - query/form rules: traccar/traccar at commit ec76482c15094a7e04964c67d3011a7e8e1ad6a9
 *   (speed in knots, `batt` → batteryLevel, `hdop`, `driverUniqueId`, every other parameter an
 *   attribute: a number, true/false, or text; timestamp seconds below 2^31 - 1, else ms);
 * - JSON rules (decodeJson, added in 2025): read from a 2025 version of the same file
 *   ("Copyright 2013 - 2025") in the reference library, whose copy names no repository and
 *   carries fork additions to the query part, so only its decodeJson is taken: coords speed
 *   m/s → knots (÷ 0.514444) when ≥ 0, heading when ≥ 0, battery level × 100 truncated when
 *   ≥ 0, charge only when charging, event/motion/odometer/mock/activity, scalar extras.
 *
 * Traccar's Position fills what a request does not set: altitude, speed, course and accuracy 0;
 * the time is the server's when no timestamp is sent ('now' below); a report without a fix
 * takes the device's last location ('last' below: outdated, the last fix's coordinates).
 */

export interface TraccarPosition {
  readonly uniqueId: string;
  readonly valid: boolean;
  readonly time: number | 'now';
  readonly latitude: number | 'last';
  readonly longitude: number | 'last';
  readonly altitude: number;
  /** knots */
  readonly speed: number;
  readonly course: number;
  readonly accuracy: number;
  readonly attributes: Record<string, string | number | boolean>;
  readonly network?: {
    readonly cellTowers?: readonly { mcc: number; mnc: number; lac: number; cid: number; signalStrength?: number }[];
    readonly wifiAccessPoints?: readonly { macAddress: string; signalStrength: number }[];
  };
}

export interface TraccarCase {
  /** The Java test method and the check it makes (verifyPosition, verifyNotNull, verifyNull). */
  readonly source: string;
  readonly method: 'GET' | 'POST';
  /** Path and query, as in the Java `request(...)`. */
  readonly uri: string;
  readonly contentType?: string;
  readonly body?: string;
  /** null: Traccar decodes nothing and answers 400. */
  readonly expected: TraccarPosition | null;
}

const noFix = { valid: true, latitude: 'last', longitude: 'last' } as const;
const zeros = { altitude: 0, speed: 0, course: 0, accuracy: 0 };

export const traccarOsmandSuite: readonly TraccarCase[] = [
  {
    source: 'testDecodeJson #1 verifyPosition',
    method: 'POST', uri: '/', contentType: 'application/json',
    body: '{"location":{"timestamp":"2025-06-15T13:45:12.862Z","coords":{"latitude":37.4219983,"longitude":-122.084,"accuracy":5,"speed":0,"heading":-1,"altitude":5},"is_moving":false,"odometer":0,"event":"motionchange","battery":{"level":1,"is_charging":false},"activity":{"type":"still"},"extras":{},"_":"&id=48241179&lat=37.4219983&lon=-122.084&timestamp=2025-06-15T13:45:12.862Z&"},"device_id":"48241179"}',
    expected: {
      uniqueId: '48241179', valid: true, time: Date.parse('2025-06-15T13:45:12.862Z'), latitude: 37.4219983, longitude: -122.084,
      altitude: 5, speed: 0, course: 0, accuracy: 5,
      attributes: { event: 'motionchange', motion: false, odometer: 0, activity: 'still', batteryLevel: 100 },
    },
  },
  {
    source: 'testDecodeJson #2 verifyPosition',
    method: 'POST', uri: '/', contentType: 'application/json',
    body: '{"location":{"timestamp":"2025-06-15T13:45:12.862Z","coords":{"latitude":37.4219983,"longitude":-122.084,"accuracy":5,"speed":0,"heading":-1,"altitude":5},"is_moving":false,"odometer":0,"event":"motionchange","battery":{"level":1,"is_charging":false},"activity":{"type":"still"},"extras":{"device_string_test":"long_device_id","device_bool_test":true,"device_bool_false_test":false,"device_integer_test":1,"device_double_test":1.345,"device_very_long_double_test":1763636.3442},"_":"&id=48241179&lat=37.4219983&lon=-122.084&timestamp=2025-06-15T13:45:12.862Z&"},"device_id":"48241179"}',
    expected: {
      uniqueId: '48241179', valid: true, time: Date.parse('2025-06-15T13:45:12.862Z'), latitude: 37.4219983, longitude: -122.084,
      altitude: 5, speed: 0, course: 0, accuracy: 5,
      attributes: {
        event: 'motionchange', motion: false, odometer: 0, activity: 'still', batteryLevel: 100,
        device_string_test: 'long_device_id', device_bool_test: true, device_bool_false_test: false,
        device_integer_test: 1, device_double_test: 1.345, device_very_long_double_test: 1763636.3442,
      },
    },
  },
  {
    source: 'testDecodeJson #3 verifyPosition',
    method: 'POST', uri: '/', contentType: 'application/json',
    body: '{"location":{"extras":{},"mock":true,"coords":{"speed_accuracy":-1,"speed":-1,"longitude":-122.406417,"ellipsoidal_altitude":0,"floor":null,"heading_accuracy":-1,"latitude":37.785834000000001,"accuracy":5,"altitude_accuracy":-1,"altitude":0,"heading":-1},"is_moving":false,"age":188,"odometer":0,"uuid":"2FB04C65-99CF-42AB-8DD3-EBCB4B108BF8","event":"motionchange","battery":{"level":-1,"is_charging":false},"activity":{"type":"unknown","confidence":100},"timestamp":"2025-05-09T04:11:30.579Z"},"device_id":"658765"}',
    expected: {
      uniqueId: '658765', valid: true, time: Date.parse('2025-05-09T04:11:30.579Z'), latitude: 37.785834000000001, longitude: -122.406417,
      altitude: 0, speed: 0, course: 0, accuracy: 5,
      attributes: { event: 'motionchange', motion: false, odometer: 0, mock: true, activity: 'unknown' },
    },
  },
  {
    source: 'testDecodeJson #4 verifyPosition',
    method: 'POST', uri: '/', contentType: 'application/json',
    body: '{"location":{"event":"motionchange","is_moving":false,"uuid":"0e9a2473-a9a7-4c00-997b-fb97d2154e75","timestamp":"2021-07-21T08:06:34.444Z","odometer":0,"coords":{"latitude":-6.1148096,"longitude":106.6837015,"accuracy":3.8,"speed":18.67,"speed_accuracy":0.26,"heading":63,"heading_accuracy":0.28,"altitude":35.7,"altitude_accuracy":3.8},"activity":{"type":"still","confidence":100},"battery":{"is_charging":false,"level":0.79},"extras":{}},"device_id":"8737767034"}',
    expected: {
      uniqueId: '8737767034', valid: true, time: Date.parse('2021-07-21T08:06:34.444Z'), latitude: -6.1148096, longitude: 106.6837015,
      altitude: 35.7, speed: 18.67 / 0.514444, course: 63, accuracy: 3.8,
      attributes: { event: 'motionchange', motion: false, odometer: 0, activity: 'still', batteryLevel: 79 },
    },
  },
  {
    source: 'testDecodeQuery #1 verifyNotNull',
    method: 'GET', uri: '/?id=123456&timestamp=1377177267&cell=257,02,16,2224&cell=257,02,16,2223,-90&wifi=00-14-22-01-23-45,-80&wifi=00-1C-B3-09-85-15,-70',
    expected: {
      uniqueId: '123456', ...noFix, time: 1377177267000, ...zeros, attributes: {},
      network: {
        cellTowers: [{ mcc: 257, mnc: 2, lac: 16, cid: 2224 }, { mcc: 257, mnc: 2, lac: 16, cid: 2223, signalStrength: -90 }],
        wifiAccessPoints: [{ macAddress: '00:14:22:01:23:45', signalStrength: -80 }, { macAddress: '00:1C:B3:09:85:15', signalStrength: -70 }],
      },
    },
  },
  {
    source: 'testDecodeQuery #2 verifyNull (no device id)',
    method: 'GET', uri: '/?timestamp=1377177267&lat=60.0&lon=30.0',
    expected: null,
  },
  {
    source: 'testDecodeQuery #3 verifyPosition',
    method: 'GET', uri: '/?id=902064&lat=42.06288&lon=-88.23412&timestamp=2016-01-27T18%3A55%3A47Z&hdop=6.0&altitude=224.0&speed=0.0',
    expected: { uniqueId: '902064', valid: true, time: Date.parse('2016-01-27T18:55:47Z'), latitude: 42.06288, longitude: -88.23412, ...zeros, altitude: 224, attributes: { hdop: 6 } },
  },
  {
    source: 'testDecodeQuery #4 verifyPosition',
    method: 'GET', uri: '/?id=902064&lat=42.06288&lon=-88.23412&timestamp=1442068686579&hdop=6.0&altitude=224.0&speed=0.0',
    expected: { uniqueId: '902064', valid: true, time: 1442068686579, latitude: 42.06288, longitude: -88.23412, ...zeros, altitude: 224, attributes: { hdop: 6 } },
  },
  {
    source: 'testDecodeQuery #5 verifyPosition',
    method: 'GET', uri: '/?lat=49.60688&lon=6.15788&timestamp=2014-06-04+09%3A10%3A11&altitude=384.7&speed=0.0&id=353861053849681',
    // yyyy-MM-dd HH:mm:ss in the server's zone: Traccar on a UTC server, Fleetline always.
    expected: { uniqueId: '353861053849681', valid: true, time: Date.parse('2014-06-04T09:10:11Z'), latitude: 49.60688, longitude: 6.15788, ...zeros, altitude: 384.7, attributes: {} },
  },
  {
    source: 'testDecodeQuery #6 verifyPosition',
    method: 'GET', uri: '/?id=123456&timestamp=1377177267&lat=60.0&lon=30.0&speed=0.0&bearing=0.0&altitude=0&hdop=0.0',
    expected: { uniqueId: '123456', valid: true, time: 1377177267000, latitude: 60, longitude: 30, ...zeros, attributes: { hdop: 0 } },
  },
  {
    source: 'testDecodeQuery #7 verifyPosition',
    method: 'GET', uri: '/?id=123456&timestamp=1377177267&lat=60.0&lon=30.0',
    expected: { uniqueId: '123456', valid: true, time: 1377177267000, latitude: 60, longitude: 30, ...zeros, attributes: {} },
  },
  {
    source: 'testDecodeQuery #8 verifyPosition',
    method: 'GET', uri: '/?lat=60.0&lon=30.0&speed=0.0&heading=0.0&vacc=0&hacc=0&altitude=0&deviceid=123456',
    expected: { uniqueId: '123456', valid: true, time: 'now', latitude: 60, longitude: 30, ...zeros, attributes: { vacc: 0, hacc: 0 } },
  },
  {
    source: 'testDecodeQuery #9 verifyPosition',
    method: 'GET', uri: '/?id=861001000719969&lat=41.666667&lon=-0.883333&altitude=350.059479&speed=0.000000&batt=87',
    expected: { uniqueId: '861001000719969', valid: true, time: 'now', latitude: 41.666667, longitude: -0.883333, ...zeros, altitude: 350.059479, attributes: { batteryLevel: 87 } },
  },
  {
    source: 'testDecodeQuery #10 verifyPosition',
    method: 'GET', uri: '/?id=123456&timestamp=1377177267&location=60.0,30.0',
    expected: { uniqueId: '123456', valid: true, time: 1377177267000, latitude: 60, longitude: 30, ...zeros, attributes: {} },
  },
  {
    source: 'testDecodeQuery #11 verifyPosition',
    method: 'GET', uri: '/?id=123456789012345&timestamp=1504763810&lat=40.7232948571&lon=-74.0061408571&bearing=7.19889788244&speed=40&ignition=true&rpm=933&fuel=24',
    expected: {
      uniqueId: '123456789012345', valid: true, time: 1504763810000, latitude: 40.7232948571, longitude: -74.0061408571,
      altitude: 0, speed: 40, course: 7.19889788244, accuracy: 0, attributes: { ignition: true, rpm: 933, fuel: 24 },
    },
  },
];

/** The device ids the suite reports for (registered in the conformance test's fleet). */
export const traccarSuiteDevices: readonly string[] = [...new Set(traccarOsmandSuite.flatMap((c) => (c.expected ? [c.expected.uniqueId] : [])))];
