import type { Cluster, Redis } from 'ioredis';
import { waitFor } from './wait';
import { RedisClusterProcess, RedisProcess, startRedis, startRedisCluster } from '../../../test/support/redis-server';
import { connectRedis } from '../../kit/bus';
import { readConfig } from '../../kit/config';
import { createLogger } from '../../kit/log';
import { LocalGateway } from '../local/gateway';
import { LocalSystem, startLocalSystem } from '../local/local-system';
import { RedisCommandCounter } from '../server/command-limit';
import { RedisIdentifyGate } from '../server/identify-throttler';

// Two shards on one redis-server: the per-user command limit counts a user's commands on every shard. Then
// the same Redis parts on a three-node cluster, as a serverless Valkey endpoint is.
const AUTH = 'bot-limits-test-auth';
let redis: RedisProcess;
let system: LocalSystem;

beforeAll(async () => {
  redis = await startRedis({ password: AUTH });
  system = await startLocalSystem({
    shardCount: 2,
    shardConfig: { busUrl: redis.url, busAuth: AUTH },
    log: createLogger('bot-limits-test', 'fatal'),
  });
}, 60_000);

afterAll(async () => {
  await system?.stop();
  await redis?.stop();
});

test('a user spamming commands in guilds of two shards gets 5 answers per 10 s in total, and one slow-down notice', async () => {
  const gateway = system.bot.gateway;
  const guilds = [0, 1].map(shard => gateway.guilds.find(g => LocalGateway.shardOf(g, 2) === shard)!);
  const spammer = { id: '7000000000000000001' };
  await waitFor('the start of a window', () => Date.now() % 10_000 < 5_000, 6_000);
  for (let i = 0; i < 10; i++) {
    gateway.userMessage(guilds[i % 2], '!ping', spammer);
  }
  await waitFor('the answers', () => gateway.posted.length >= 6);
  await new Promise(r => setTimeout(r, 500));
  const contents = gateway.posted.map(p => p.content);
  expect(contents.filter(c => c.startsWith('pong'))).toHaveLength(5);
  expect(contents.filter(c => c.includes('slow down'))).toEqual([`<@${spammer.id}> slow down: 5 commands per 10 s`]);
  // Each shard got 5 of the 10: counted per shard, all 10 would have been answered.
  expect(system.shards[0]!.counters.limited + system.shards[1]!.counters.limited).toBe(5);
});

test('!stats given by many users at once on one shard asks the other shards once', async () => {
  const gateway = system.bot.gateway;
  const guild = gateway.guilds.find(g => LocalGateway.shardOf(g, 2) === 0)!;
  const published = system.bot.messaging.record.published;
  for (let i = 0; i < 5; i++) {
    gateway.userMessage(guild, '!stats', { id: String(7100000000000000000n + BigInt(i)) });
  }
  await waitFor('five answers', () => gateway.posted.filter(p => p.content.includes('guilds on 2 of 2 shards')).length === 5);
  expect(system.bot.messaging.record.published - published).toBe(1);
});

describe('on a cluster-mode endpoint (serverless Valkey)', () => {
  let cluster: RedisClusterProcess;
  let client: Redis | Cluster;

  beforeAll(async () => {
    cluster = await startRedisCluster({ password: AUTH });
    client = connectRedis({ ...readConfig({}), busUrl: cluster.url, busAuth: AUTH, busCluster: true }, createLogger('cluster-test', 'fatal'), 'bot-cluster-test');
  }, 60_000);

  afterAll(async () => {
    client?.disconnect();
    await cluster?.stop();
  });

  test('the identify slot goes to one shard per bucket and window, and the command count is per user and window', async () => {
    const gate = new RedisIdentifyGate(client, 'bot:cluster');
    expect(await gate.tryAcquire(0, 'shard-0', 6000)).toBe(0);
    const wait = await gate.tryAcquire(0, 'shard-2', 6000);
    expect(wait).toBeGreaterThan(5000);
    expect(wait).toBeLessThanOrEqual(6000);
    expect(await gate.tryAcquire(1, 'shard-1', 6000)).toBe(0);

    const counter = new RedisCommandCounter(client, 'bot:cluster');
    await waitFor('not the last second of a window', () => Date.now() % 10_000 < 9_000, 2_000);
    expect([await counter.hit('u1', 10), await counter.hit('u1', 10), await counter.hit('u2', 10)]).toEqual([1, 2, 1]);
  });
});
