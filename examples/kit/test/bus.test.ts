import Redis from 'ioredis';
import { Bus, MemoryBus, readConfig, RedisBus } from '..';
import { RedisClusterProcess, RedisProcess, startRedis, startRedisCluster } from '../../../test/support/redis-server';
import { createLogger } from '../log';

const silent = createLogger('test', 'silent');

/** Publishes until the subscriber hears it (subscriptions and reconnects settle asynchronously). */
async function crosses(from: Bus, to: Bus, channel: string, timeoutMs = 10_000): Promise<Buffer> {
  const heard: Buffer[] = [];
  await to.subscribe(channel, payload => heard.push(payload));
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; heard.length === 0; i++) {
    if (Date.now() > deadline) {
      throw new Error(`nothing crossed on ${channel} within ${timeoutMs} ms`);
    }
    await from.publish(channel, Buffer.from([i & 0xff, 0, 255])).catch(() => undefined);
    await new Promise(r => setTimeout(r, 100));
  }
  return heard[0];
}

describe('MemoryBus', () => {
  test('delivers the published bytes to every subscriber of the channel only', async () => {
    const bus = new MemoryBus();
    const a: Buffer[] = [];
    const b: Buffer[] = [];
    const other: Buffer[] = [];
    await bus.subscribe('c', p => a.push(p));
    await bus.subscribe('c', p => b.push(p));
    await bus.subscribe('d', p => other.push(p));
    await bus.publish('c', 'hello');
    await new Promise(r => setImmediate(r));
    expect(a.map(String)).toEqual(['hello']);
    expect(b[0]).toBe(a[0]);
    expect(other).toEqual([]);
    await bus.close();
  });
});

describe('RedisBus on a real redis-server', () => {
  let redis: RedisProcess;
  let one: RedisBus;
  let two: RedisBus;
  const config = () => readConfig({ REALTIME_BUS_URL: redis.url, REALTIME_BUS_AUTH: 'bus-token' });

  beforeAll(async () => {
    redis = await startRedis({ password: 'bus-token' });
    one = new RedisBus(config(), silent);
    two = new RedisBus(config(), silent);
  });
  afterAll(async () => {
    await one.close();
    await two.close();
    await redis.stop();
  });

  test('carries binary payloads between two processes\' buses with AUTH', async () => {
    const payload = await crosses(one, two, 'updates');
    expect([...payload.subarray(1)]).toEqual([0, 255]);
    expect(one.kind).toBe('redis');
  });

  test('reconnects and resubscribes after redis-server restarts', async () => {
    await crosses(one, two, 'restart');
    const port = redis.port;
    await redis.stop();
    redis = await startRedis({ port, password: 'bus-token' });
    const heard: Buffer[] = [];
    await two.subscribe('restart', p => heard.push(p));
    const deadline = Date.now() + 15_000;
    while (heard.length === 0 && Date.now() < deadline) {
      await one.publish('restart', 'after').catch(() => undefined);
      await new Promise(r => setTimeout(r, 200));
    }
    expect(heard.map(String)).toContain('after');
  });

  test('tells onResubscribed listeners once the subscriptions are back after a lost connection (not at the first connect)', async () => {
    const listener = new RedisBus(config(), silent);
    try {
      let resubscribed = 0;
      listener.onResubscribed(() => { resubscribed++; });
      await crosses(one, listener, 'gap');
      expect(resubscribed).toBe(0);
      const heard: string[] = [];
      await listener.subscribe('gap', p => heard.push(String(p)));
      const admin = new Redis({ port: redis.port, password: 'bus-token' });
      await admin.client('KILL', 'TYPE', 'pubsub');
      admin.disconnect();
      const deadline = Date.now() + 10_000;
      while (resubscribed === 0 && Date.now() < deadline) {
        await new Promise(r => setTimeout(r, 20));
      }
      expect(resubscribed).toBe(1);
      // The subscription is in effect when the listeners run: a single publish now arrives.
      await one.publish('gap', 'right after');
      const until = Date.now() + 2000;
      while (!heard.includes('right after') && Date.now() < until) {
        await new Promise(r => setTimeout(r, 20));
      }
      expect(heard).toContain('right after');
    } finally {
      await listener.close();
    }
  });

  test('a wrong token is refused', async () => {
    const bad = new RedisBus(readConfig({ REALTIME_BUS_URL: redis.url, REALTIME_BUS_AUTH: 'wrong' }), silent);
    await expect(Promise.race([bad.publish('x', 'y'), new Promise((_, rej) => setTimeout(() => rej(new Error('timeout')), 3000))]))
      .rejects.toThrow(/WRONGPASS|invalid|timeout/);
    await bad.close();
  });
});

describe('RedisBus on a 3-node Redis Cluster (sharded pub/sub, as on ElastiCache Serverless)', () => {
  let cluster: RedisClusterProcess;
  let one: RedisBus;
  let two: RedisBus;

  beforeAll(async () => {
    cluster = await startRedisCluster({ password: 'cluster-token' });
    const config = readConfig({ REALTIME_BUS_URL: cluster.url, REALTIME_BUS_AUTH: 'cluster-token', REALTIME_BUS_CLUSTER: 'true' });
    one = new RedisBus(config, silent);
    two = new RedisBus(config, silent);
  }, 60_000);
  afterAll(async () => {
    await one?.close();
    await two?.close();
    await cluster?.stop();
  });

  test('channels on different shards all cross between buses', async () => {
    expect(one.kind).toBe('redis-cluster');
    // Names chosen to hash to slots on different primaries.
    for (const channel of ['canvas:updates', 'chat:room:general', 'quiz:42', 'a', 'b', 'c']) {
      const payload = await crosses(one, two, channel);
      expect(payload.length).toBe(3);
    }
  });
});
