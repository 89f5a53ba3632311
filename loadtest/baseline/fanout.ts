import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { pino, type Logger } from 'pino';
import type { Consumer } from 'kafkajs';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Redis } from 'ioredis';
import { closeRedis, connectRedis } from '../../adapters/redis/redis-connection.js';
import { createTransport } from '../../adapters/websocket/select-transport.js';
import { CloseCodes } from '../../actors/domain/errors.js';
import { JwtAuth } from '../../engine/auth.js';
import { runAsProcess, type BaselineConfig } from './config.js';
import { baselineTopics, createKafka, ensureTopics } from './baseline-kafka.js';
import { HotStateKeys, unpackValue } from './hot-state.js';
import { FanoutClient } from './fanout-client.js';
import { SubscriptionMap } from './subscription-map.js';
import { readSnapshot } from './snapshot-reader.js';
import type { UpdateMessage } from './point-batch.js';
import { currentVehicles } from './vehicles-endpoint.js';

export interface FanoutHandle {
  /** http://host:port; clients connect to `${url}/v1/stream` (ws://). */
  readonly url: string;
  readonly port: number;
  readonly transport: 'uws' | 'ws';
  stop(): Promise<void>;
}

/**
 * The baseline's realtime service: consumes every vehicle.updates partition from the end (a
 * group of its own per instance), offers each update to the clients the in-memory
 * subscription map names, and flushes each client's coalesced frames every WS_FLUSH_MS.
 * Snapshots for new subscriptions are read from Redis.
 */
export async function startFanout(config: BaselineConfig, log: Logger = pino({ level: config.logLevel })): Promise<FanoutHandle> {
  const topics = baselineTopics(config);
  const keys = new HotStateKeys(config.redisPrefix);
  const kafka = createKafka(config, 'baseline-fanout', log);
  await ensureTopics(kafka, [topics.updates], config.partitions);
  const redis: Redis = await connectRedis({ url: config.redisUrl, name: 'baseline-fanout', logger: log });
  const auth = new JwtAuth(config.jwtSecret);

  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const updatesTotal = new Counter({ name: 'baseline_fanout_updates_total', help: 'Updates read from vehicle.updates', registers: [registry] });
  const clientsGauge = new Gauge({ name: 'baseline_fanout_clients', help: 'Open WebSocket connections', registers: [registry] });

  const map = new SubscriptionMap<FanoutClient>();
  const dirty = new Set<FanoutClient>();
  const clients = new Set<FanoutClient>();
  const flushTimer = setInterval(() => {
    const now = [...dirty];
    dirty.clear();
    for (const c of now) c.flush();
  }, config.wsFlushMs);
  const deps = {
    auth, map, log,
    readSnapshot: (grant: ReadonlySet<string> | null, sub: Parameters<typeof readSnapshot>[3]) => readSnapshot(redis, keys, grant, sub, config.snapshotLimit),
    markDirty: (c: FanoutClient) => { dirty.add(c); },
    snapshotLimit: config.snapshotLimit,
    maxBufferedBytes: config.wsMaxBufferedBytes,
    authTimeoutMs: 10_000,
  };

  const transport = createTransport('auto', { maxBodyBytes: 64 * 1024, maxFrameBytes: 64 * 1024, pingIntervalSeconds: 30, pongTimeoutSeconds: 60 }, log);
  transport.onRequest(async (req) => {
    if (req.path === '/healthz') return { status: 200, body: 'ok' };
    if (req.path === '/v1/vehicles' && req.method === 'GET') return currentVehicles(req, auth, (grant, sub) => readSnapshot(redis, keys, grant, sub, config.snapshotLimit));
    if (req.path === '/metrics') return { status: 200, headers: { 'content-type': registry.contentType }, body: await registry.metrics() };
    return { status: 404, body: 'not found' };
  });
  transport.websocket('/v1/stream', {
    open(conn, upgrade) {
      const client = new FanoutClient(conn, deps, upgrade.query.get('token'));
      clients.add(client);
      clientsGauge.set(clients.size);
      return {
        message: (data, isBinary) => client.message(data, isBinary),
        drain: () => client.drain(),
        closed: () => {
          client.closed();
          clients.delete(client);
          dirty.delete(client);
          clientsGauge.set(clients.size);
        },
      };
    },
  });

  const consumer: Consumer = kafka.consumer({ groupId: `${config.topicPrefix}baseline-fanout-${randomUUID()}` });
  await consumer.connect();
  // Start at the end as of now, explicitly: a fresh group's "latest" is resolved later, and an
  // update produced in between would be skipped.
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topics.updates);
  await admin.disconnect();
  await consumer.subscribe({ topic: topics.updates, fromBeginning: false });
  const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
  await consumer.run({
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) {
        if (m.value === null) continue;
        let msg: UpdateMessage;
        try {
          msg = unpackValue<UpdateMessage>(m.value);
        } catch (e) {
          log.warn({ partition: batch.partition, offset: m.offset, err: (e as Error).message }, 'undecodable update skipped');
          continue;
        }
        map.forCandidates(msg.v.company, (c) => c.offer(msg));
      }
      updatesTotal.inc(batch.messages.length);
    },
  });
  for (const e of ends) consumer.seek({ topic: topics.updates, partition: e.partition, offset: e.offset });
  await joined;

  const port = await transport.listen(config.host, config.port);
  const host = config.host === '0.0.0.0' ? '127.0.0.1' : config.host;
  log.info({ port, transport: transport.kind, topic: topics.updates }, 'baseline fanout listening');
  return {
    url: `http://${host}:${port}`,
    port,
    transport: transport.kind,
    async stop() {
      clearInterval(flushTimer);
      await transport.close(CloseCodes.SHUTTING_DOWN, 'shutting down');
      await consumer.disconnect();
      await closeRedis(redis);
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await runAsProcess(startFanout);
