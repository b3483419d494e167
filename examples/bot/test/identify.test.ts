import { startShardProcess, ShardProcess } from './shard-process';
import { waitFor } from './wait';
import { RedisProcess, startRedis } from '../../../test/support/redis-server';
import { IDENTIFY_INTERVAL_MS, LocalGateway } from '../local/gateway';
import { LocalBot, startLocalBot } from '../local/local-bot';

// One process per shard, as one task per shard in ECS: the identify pacing must hold across processes,
// which only the shared Redis gate gives.
const AUTH = 'bot-identify-test-auth';
let redis: RedisProcess;
let bot: LocalBot | undefined;
let procs: ShardProcess[] = [];

beforeAll(async () => {
  redis = await startRedis({ password: AUTH });
});

afterEach(async () => {
  await Promise.all(procs.map(p => p.stop()));
  procs = [];
  await bot?.stop();
  bot = undefined;
});

afterAll(async () => {
  await redis?.stop();
});

/** Identify times per bucket, in order. */
function identifiesByBucket(gateway: LocalGateway, maxConcurrency: number): Map<number, number[]> {
  const byBucket = new Map<number, number[]>();
  for (const e of gateway.eventsOf('identify')) {
    const bucket = e.shard! % maxConcurrency;
    byBucket.set(bucket, [...(byBucket.get(bucket) ?? []), e.at].sort((a, b) => a - b));
  }
  return byBucket;
}

test('four shard tasks on one Redis identify one per bucket (shard_id % max_concurrency) per 5 s, and none is refused', async () => {
  bot = await startLocalBot({ shardCount: 4, gateway: { maxConcurrency: 2 } });
  const env = { REALTIME_BUS_URL: redis.url, REALTIME_BUS_AUTH: AUTH };
  procs = [0, 1, 2, 3].map(id => startShardProcess(bot!.shardEnv(id, env)));
  await Promise.all(procs.map(p => p.ready));

  expect(bot.gateway.liveShards()).toEqual([0, 1, 2, 3]);
  expect(bot.gateway.eventsOf('refused')).toEqual([]);
  const byBucket = identifiesByBucket(bot.gateway, 2);
  expect([...byBucket.keys()].sort()).toEqual([0, 1]);
  for (const times of byBucket.values()) {
    expect(times).toHaveLength(2);
    expect(times[1] - times[0]).toBeGreaterThanOrEqual(IDENTIFY_INTERVAL_MS);
  }
  // Buckets are independent: the first identify of each went out together, not 5 s apart.
  expect(Math.abs(byBucket.get(0)![0] - byBucket.get(1)![0])).toBeLessThan(IDENTIFY_INTERVAL_MS);
}, 60_000);

test('the same tasks without the shared store identify at once, and the gateway refuses the extra ones with 4008', async () => {
  bot = await startLocalBot({ shardCount: 4, gateway: { maxConcurrency: 1 } });
  procs = [0, 1, 2, 3].map(id => startShardProcess(bot!.shardEnv(id)));
  const refusal = await waitFor('an identify refused as too early', () => bot!.gateway.eventsOf('refused').find(e => e.reason === 'identify-too-early'), 30_000);
  expect(refusal.code).toBe(4008);
}, 60_000);

test('a second task of a running shard is refused (4005) and the first keeps its session and answers alone', async () => {
  bot = await startLocalBot({ shardCount: 2, gateway: { maxConcurrency: 1 } });
  const env = { REALTIME_BUS_URL: redis.url, REALTIME_BUS_AUTH: AUTH };
  const first = startShardProcess(bot.shardEnv(0, env));
  procs.push(first);
  await first.ready;
  const session = bot.gateway.eventsOf('identify', 0)[0].sessionId;

  const second = startShardProcess(bot.shardEnv(0, env));
  procs.push(second);
  const refused = await waitFor('the duplicate refused', () => bot!.gateway.eventsOf('refused', 0).find(e => e.reason === 'duplicate-shard'), 30_000);
  expect(refused.code).toBe(4005);
  expect(bot.gateway.eventsOf('identify', 0).map(e => e.sessionId)).toEqual([session]);

  const guild = bot.gateway.guilds.find(g => LocalGateway.shardOf(g, 2) === 0)!;
  bot.gateway.userMessage(guild, '!ping');
  await waitFor('the pong', () => bot!.gateway.posted.length >= 1);
  await new Promise(r => setTimeout(r, 300));
  expect(bot.gateway.posted.map(p => p.content.replace(/ \(gateway heartbeat \d+ ms\)$/, ''))).toEqual(['pong from shard 0 of 2']);
}, 60_000);
