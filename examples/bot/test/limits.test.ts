import { waitFor } from './wait';
import { RedisProcess, startRedis } from '../../../test/support/redis-server';
import { createLogger } from '../../kit/log';
import { LocalGateway } from '../local/gateway';
import { LocalSystem, startLocalSystem } from '../local/local-system';

// Two shards on one redis-server: the per-user command limit counts a user's commands on every shard.
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
