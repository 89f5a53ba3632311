import { Agent, request } from 'node:http';
import { Kafka, Partitioners, logLevel, type Producer } from 'kafkajs';
import { encodeMsgpack } from '../../adapters/codec/msgpack-codec.js';
import type { RawPoint } from '../../engine/simulator/route-simulator.js';
import { postTelemetry } from '../telemetry-post.js';

/** What a sender knows of a batch it sent: accepted and rejected as the engine answered, or failed. */
export interface SendOutcome {
  accepted: number;
  rejected: number;
  failed: number;
}

export interface PointSender {
  /** Connects before the clock starts (a Kafka producer); resolves at once for HTTP. */
  open(): Promise<void>;
  send(points: readonly RawPoint[]): Promise<SendOutcome>;
  close(): Promise<void>;
}

/** POST /v1/telemetry, MessagePack batches, engines round-robin, keep-alive. */
export class HttpPointSender implements PointSender {
  private readonly agent: Agent;
  private next = 0;
  private readonly engines: URL[];

  constructor(engines: readonly string[], private readonly token: string, sockets: number) {
    this.engines = engines.map((u) => new URL(u));
    this.agent = new Agent({ keepAlive: true, maxSockets: sockets });
  }

  async open(): Promise<void> {}

  async send(points: readonly RawPoint[]): Promise<SendOutcome> {
    const body = Buffer.from(encodeMsgpack(points));
    try {
      const { status, text } = await postTelemetry(this.agent, this.engines[this.next++ % this.engines.length], body, this.token);
      if (status !== 202) return { accepted: 0, rejected: 0, failed: points.length };
      const r = JSON.parse(text) as { accepted: number; rejected: unknown[] };
      return { accepted: r.accepted, rejected: r.rejected.length, failed: 0 };
    } catch {
      return { accepted: 0, rejected: 0, failed: points.length };
    }
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }
}

/**
 * Kafka telemetry.raw, keyed by device id (kafkajs' default partitioner is murmur2, as the
 * engine expects). The topic is trusted: nothing is validated before the engine consumes it,
 * so every record acknowledged by the brokers counts as accepted here.
 */
export class KafkaPointSender implements PointSender {
  private producer: Producer | null = null;
  private readonly topic: string;

  constructor(private readonly brokers: readonly string[], prefix: string) {
    this.topic = `${prefix}telemetry.raw`;
  }

  private async connected(): Promise<Producer> {
    if (this.producer) return this.producer;
    const kafka = new Kafka({ clientId: 'fleetline-loadtest', brokers: [...this.brokers], logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
    await producer.connect();
    this.producer = producer;
    return producer;
  }

  async open(): Promise<void> {
    await this.connected();
  }

  async send(points: readonly RawPoint[]): Promise<SendOutcome> {
    try {
      const producer = await this.connected();
      await producer.send({
        topic: this.topic,
        messages: points.map((p) => ({ key: p.deviceId, value: Buffer.from(encodeMsgpack(p)) })),
      });
      return { accepted: points.length, rejected: 0, failed: 0 };
    } catch {
      return { accepted: 0, rejected: 0, failed: points.length };
    }
  }

  async close(): Promise<void> {
    await this.producer?.disconnect();
  }
}

/** OsmAnd as a phone sends it: one GET per point (speed in knots, timestamp in ms). */
export class OsmAndPointSender implements PointSender {
  private readonly agent: Agent;
  private next = 0;
  private readonly urls: URL[];

  constructor(urls: readonly string[], sockets: number) {
    this.urls = urls.map((u) => new URL(u));
    this.agent = new Agent({ keepAlive: true, maxSockets: sockets });
  }

  async open(): Promise<void> {}

  async send(points: readonly RawPoint[]): Promise<SendOutcome> {
    const answers = await Promise.all(points.map((p) => this.report(p)));
    const out: SendOutcome = { accepted: 0, rejected: 0, failed: 0 };
    for (const status of answers) {
      if (status === 200) out.accepted++;
      else if (status >= 400 && status < 500) out.rejected++;
      else out.failed++;
    }
    return out;
  }

  private report(p: RawPoint): Promise<number> {
    const base = this.urls[this.next++ % this.urls.length];
    const q = new URLSearchParams({
      id: p.deviceId, timestamp: String(p.ts), lat: String(p.lat), lon: String(p.lon),
      speed: (p.speed / 1.852).toFixed(2), bearing: String(p.course), ignition: String(p.ignition), fuel: String(p.fuel),
    });
    return new Promise((resolve) => {
      const req = request({ host: base.hostname, port: base.port || 80, path: `${base.pathname}?${q}`, method: 'GET', agent: this.agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', () => resolve(0));
      req.end();
    });
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }
}
