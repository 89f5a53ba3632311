#!/usr/bin/env node
import { Command } from 'commander';
import { inspectGroup } from '../adapters/kafka/group-inspector.js';
import { formatShardMap } from '../cluster/shard-map.js';
import { options } from './config.js';
import { ConsumerGroups, Topics } from '../actors/ports/partitioned-log.js';

/**
 * `fleetline` — operations on a running deployment. It finds the cluster from the same
 * environment variables a node reads (KAFKA_BROKERS, KAFKA_TOPIC_PREFIX), so it takes no
 * connection flags.
 */
function deployment(env: NodeJS.ProcessEnv = process.env): { brokers: string[]; prefix: string } {
  const brokers = env[options.kafkaBrokers.env];
  if (!brokers) {
    process.stderr.write(`fleetline: ${options.kafkaBrokers.env} is not set; a cluster needs Kafka (the embedded default is one node)\n`);
    process.exit(2);
  }
  return { brokers: brokers.split(',').map((b) => b.trim()).filter(Boolean), prefix: env[options.kafkaTopicPrefix.env] ?? '' };
}

const program = new Command('fleetline').description('Fleetline operations').showHelpAfterError();
const cluster = program.command('cluster').description('the nodes of a deployment and the partitions they own');

cluster.command('status')
  .description('members with weights, the partition → node map, committed offsets and lag')
  .option('--json', 'print JSON instead of a table')
  .action(async (opts: { json?: boolean }) => {
    const d = deployment();
    const map = await inspectGroup({ brokers: d.brokers, groupId: d.prefix + ConsumerGroups.engine, topic: d.prefix + Topics.telemetryRaw });
    process.stdout.write((opts.json ? JSON.stringify(map, null, 2) : formatShardMap(map)) + '\n');
  });

program.parseAsync().catch((e: Error) => {
  process.stderr.write(`fleetline: ${e.message}\n`);
  process.exit(1);
});
