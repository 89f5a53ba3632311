#!/usr/bin/env node
import { Command } from 'commander';
import { inspectGroup } from '../adapters/kafka/group-inspector.js';
import { ConsumerGroups, Topics } from '../actors/ports/partitioned-log.js';
import { formatShardMap, type ShardMap, type ShardMember } from '../cluster/shard-map.js';
import { JwtAuth } from './auth.js';
import type { VehicleLocation } from './cluster-ops.js';
import { options } from './config.js';

/**
 * `fleetline` — operations on a running deployment. It finds the cluster from the same
 * environment variables a node reads (KAFKA_BROKERS, KAFKA_TOPIC_PREFIX; JWT_SECRET, or an admin token in FLEETLINE_TOKEN, for the
 * commands that change something), so it takes no connection flags.
 */
function fail(message: string): never {
  process.stderr.write(`fleetline: ${message}\n`);
  process.exit(2);
}

function deployment(env: NodeJS.ProcessEnv = process.env): { brokers: string[]; prefix: string } {
  const brokers = env[options.kafkaBrokers.env];
  if (!brokers) fail(`${options.kafkaBrokers.env} is not set; a cluster needs Kafka (the embedded default is one node)`);
  return { brokers: brokers.split(',').map((b) => b.trim()).filter(Boolean), prefix: env[options.kafkaTopicPrefix.env] ?? '' };
}

async function shardMap(): Promise<ShardMap> {
  const d = deployment();
  return inspectGroup({ brokers: d.brokers, groupId: d.prefix + ConsumerGroups.engine, topic: d.prefix + Topics.telemetryRaw });
}

/**
 * The admin token of the commands: FLEETLINE_TOKEN when given (a deployment whose tokens are
 * RS256 from an identity provider), else a short-lived one signed like the nodes' HS256
 * tokens (JWT_SECRET, JWT_ISSUER, JWT_AUDIENCE).
 */
async function adminToken(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (env.FLEETLINE_TOKEN) return env.FLEETLINE_TOKEN;
  const secret = env[options.jwtSecret.env];
  if (!secret) fail(`neither FLEETLINE_TOKEN (an admin token) nor ${options.jwtSecret.env} is set: changing the cluster needs one of them`);
  const auth = new JwtAuth(secret, { maxLifetimeS: 300, issuer: env[options.jwtIssuer.env] || null, audience: env[options.jwtAudience.env] || null });
  return auth.sign({ role: 'admin', sub: 'fleetline-cli' }, 300);
}

async function memberOf(nodeId: string): Promise<ShardMember & { url: string }> {
  const m = (await shardMap()).members.find((x) => x.nodeId === nodeId);
  if (!m) fail(`no node ${nodeId} in the cluster (npx fleetline cluster status lists them)`);
  if (!m.url) fail(`node ${nodeId} announced no URL (set ADVERTISED_URL on it)`);
  return m as ShardMember & { url: string };
}

async function call(url: string, path: string, body?: unknown, method: 'GET' | 'POST' = 'POST'): Promise<unknown> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${await adminToken()}`, 'content-type': 'application/json' },
    ...(method === 'POST' ? { body: body === undefined ? '' : JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  if (!res.ok) fail(`${url}${path} answered ${res.status}: ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Waits for the group to settle on a map that satisfies `done`, then prints it. */
async function settle(done: (map: ShardMap) => boolean, timeoutMs: number, json: boolean | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let map = await shardMap();
  while (!(map.state === 'Stable' && done(map))) {
    if (Date.now() > deadline) fail(`the cluster did not settle within ${timeoutMs / 1000} s; now:\n${formatShardMap(map)}`);
    await new Promise((r) => setTimeout(r, 500));
    map = await shardMap();
  }
  process.stdout.write((json ? JSON.stringify(map, null, 2) : formatShardMap(map)) + '\n');
}

const everyPartitionOwned = (map: ShardMap) => map.partitions.every((p) => p.owner !== null);

const program = new Command('fleetline').description('Fleetline operations').showHelpAfterError();
const cluster = program.command('cluster').description('the nodes of a deployment and the partitions they own');

cluster.command('status')
  .description('members with weights, the partition → node map, committed offsets and lag')
  .option('--json', 'print JSON instead of a table')
  .action(async (opts: { json?: boolean }) => {
    const map = await shardMap();
    process.stdout.write((opts.json ? JSON.stringify(map, null, 2) : formatShardMap(map)) + '\n');
  });

cluster.command('weight <nodeId> <weight>')
  .description("set a node's share of the partitions (relative to the others; 0 takes none) and rebalance")
  .option('--json', 'print the new map as JSON')
  .option('--timeout <seconds>', 'how long to wait for the new map', '120')
  .action(async (nodeId: string, weightText: string, opts: { json?: boolean; timeout: string }) => {
    const weight = Number(weightText);
    if (!/^\d+(\.\d+)?$/.test(weightText) || weight > 1000) fail('weight must be a decimal number in [0, 1000]');
    await call((await memberOf(nodeId)).url, '/v1/admin/weight', { weight });
    await settle((m) => everyPartitionOwned(m) && m.members.some((x) => x.nodeId === nodeId && x.weight === weight), Number(opts.timeout) * 1000, opts.json);
  });

cluster.command('rebalance')
  .description('have the group assign the partitions again (after weights changed by hand, say)')
  .option('--json', 'print the new map as JSON')
  .option('--timeout <seconds>', 'how long to wait for the new map', '120')
  .action(async (opts: { json?: boolean; timeout: string }) => {
    const member = (await shardMap()).members.find((m) => m.url !== null);
    if (!member) fail('no node announced a URL');
    await call(member.url as string, '/v1/admin/rebalance');
    await new Promise((r) => setTimeout(r, 1000));
    await settle(everyPartitionOwned, Number(opts.timeout) * 1000, opts.json);
  });

cluster.command('locate <vehicleId>')
  .description("which partition and node hold a vehicle's actor, and where each of its devices' points arrive")
  .option('--json', 'print JSON')
  .action(async (vehicleId: string, opts: { json?: boolean }) => {
    const member = (await shardMap()).members.find((m) => m.url !== null);
    if (!member) fail('no node announced a URL');
    const where = await call(member.url as string, `/v1/admin/locate/${encodeURIComponent(vehicleId)}`, undefined, 'GET') as VehicleLocation;
    if (opts.json) process.stdout.write(JSON.stringify(where, null, 2) + '\n');
    else {
      process.stdout.write(`${vehicleId}  partition ${where.partition}  node ${where.node ?? '(none)'}\n`);
      if (where.devices.length === 0) process.stdout.write('  no device is bound to it\n');
      for (const d of where.devices) {
        const via = d.partition === where.partition ? '' : `  (forwarded to partition ${where.partition})`;
        process.stdout.write(`  device ${d.deviceId}  partition ${d.partition}  node ${d.node ?? '(none)'}${via}\n`);
      }
    }
  });

cluster.command('drain <nodeId>')
  .description('hand every partition of a node off to the others; the node then leaves the group and exits 0')
  .option('--json', 'print the new map as JSON')
  .option('--timeout <seconds>', 'how long to wait for the node to leave', '180')
  .action(async (nodeId: string, opts: { json?: boolean; timeout: string }) => {
    await call((await memberOf(nodeId)).url, '/v1/admin/drain');
    await settle((m) => everyPartitionOwned(m) && !m.members.some((x) => x.nodeId === nodeId), Number(opts.timeout) * 1000, opts.json);
  });

program.parseAsync().catch((e: Error) => {
  process.stderr.write(`fleetline: ${e.message}\n`);
  process.exit(1);
});
