import { connect as tcpConnect } from 'net';
import Redis from 'ioredis';
import { WebSocket } from 'ws';
import { ConnectionLeases, readConfig, RealtimeServer } from '..';
import { startRedis, RedisProcess } from '../../../test/support/redis-server';
import { createLogger } from '../log';

// Connections per client address, counted across tasks in a real redis-server: two servers of one system
// share the limit, a closed connection frees its place on every server, and a task that dies without
// closing its connections frees theirs when the leases run out.

const silent = createLogger('test', 'silent');
let redis: RedisProcess;
const running: RealtimeServer[] = [];

beforeAll(async () => {
  redis = await startRedis({ password: 'leases' });
});
afterEach(async () => {
  await Promise.all(running.splice(0).map(s => s.shutdown('test end')));
});
afterAll(async () => {
  await redis.stop();
});

async function start(max: number, leaseMs?: number): Promise<number> {
  const server = new RealtimeServer({
    name: 'leases',
    log: silent,
    config: readConfig({ PORT: '0', REALTIME_DRAIN_SECONDS: '0', REALTIME_BUS_URL: redis.url, REALTIME_BUS_AUTH: 'leases' }),
    connectionsPerAddress: { max, trustedProxies: 1, ...(leaseMs ? { leaseMs } : {}) },
  });
  running.push(server);
  return server.listen();
}

function from(port: number, address: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { 'x-forwarded-for': address } });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
}

async function eventually(connect: () => Promise<WebSocket>, timeoutMs: number): Promise<WebSocket> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await connect();
    } catch (err) {
      if (Date.now() > deadline) {
        throw err;
      }
      await new Promise(r => setTimeout(r, 50));
    }
  }
}

test('with the default lease, one address holds at most max connections over all servers; a close anywhere frees a place everywhere', async () => {
  const [a, b] = await Promise.all([start(3), start(3)]);
  const held = [await from(a, '2001:db8:1:2::1'), await from(a, '2001:db8:1:2::2'), await from(b, '2001:db8:1:2:aaaa::3')];
  // The same /64 on either server is over the limit; another address is not.
  await expect(from(b, '2001:db8:1:2::4')).rejects.toThrow('HTTP 429');
  await expect(from(a, '2001:db8:1:2::5')).rejects.toThrow('HTTP 429');
  const other = await from(b, '2001:db8:1:3::1');
  held[0].close();
  const again = await eventually(() => from(b, '2001:db8:1:2::6'), 5000);
  await expect(from(a, '2001:db8:1:2::7')).rejects.toThrow('HTTP 429');
  [...held, other, again].forEach(ws => ws.close());
});

test('refused and failed handshakes hold no place: many refusals later, the address still gets exactly max', async () => {
  const [a, b] = await Promise.all([start(2), start(2)]);
  const held = [await from(a, '198.51.100.7'), await from(b, '198.51.100.7')];
  const refused = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => from(i % 2 ? a : b, '198.51.100.7')));
  expect(refused.every(r => r.status === 'rejected')).toBe(true);
  held.forEach(ws => ws.close());
  const next = [await eventually(() => from(a, '198.51.100.7'), 5000), await eventually(() => from(b, '198.51.100.7'), 5000)];
  await expect(from(a, '198.51.100.7')).rejects.toThrow('HTTP 429');
  next.forEach(ws => ws.close());
});

test('a client that goes away while its upgrade is being authenticated gives its place back', async () => {
  const server = new RealtimeServer({
    name: 'leases',
    log: silent,
    config: readConfig({ PORT: '0', REALTIME_DRAIN_SECONDS: '0', REALTIME_BUS_URL: redis.url, REALTIME_BUS_AUTH: 'leases' }),
    connectionsPerAddress: { max: 1, trustedProxies: 1 },
    // As slow as a session lookup under load.
    authenticate: () => new Promise<undefined>(r => setTimeout(() => r(undefined), 300)),
  });
  running.push(server);
  const port = await server.listen();
  const raw = tcpConnect(port, '127.0.0.1');
  await new Promise(r => raw.once('connect', r));
  raw.write('GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n'
    + 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nX-Forwarded-For: 198.51.100.99\r\n\r\n');
  await new Promise(r => setTimeout(r, 100));
  raw.destroy();
  await new Promise(r => setTimeout(r, 400));
  const ws = await from(port, '198.51.100.99');
  await expect(from(port, '198.51.100.99')).rejects.toThrow('HTTP 429');
  ws.close();
});

test('the places of a task that died without closing its connections come free when its leases expire', async () => {
  const leaseMs = 1500;
  // The task that dies: it took two places, then lost its Redis connection and never renewed or released them.
  const dyingRedis = new Redis(redis.url, { password: 'leases', lazyConnect: false, maxRetriesPerRequest: 0 });
  const dying = new ConnectionLeases(dyingRedis, { scope: 'leases', leaseMs });
  expect(await dying.acquire('203.0.113.9', 2)).toBeDefined();
  expect(await dying.acquire('203.0.113.9', 2)).toBeDefined();
  dyingRedis.disconnect();
  const died = Date.now();

  const port = await start(2, leaseMs);
  await expect(from(port, '203.0.113.9')).rejects.toThrow('HTTP 429');
  const ws = await eventually(() => from(port, '203.0.113.9'), 5000);
  expect(Date.now() - died).toBeGreaterThanOrEqual(leaseMs - 100);
  await dying.close();
  ws.close();
});

test('while Redis is unreachable, the limit still holds per server', async () => {
  const down = await startRedis({ password: 'leases' });
  const url = down.url;
  await down.stop();
  const server = new RealtimeServer({
    name: 'leases-down',
    log: silent,
    config: readConfig({ PORT: '0', REALTIME_DRAIN_SECONDS: '0', REALTIME_BUS_URL: url, REALTIME_BUS_AUTH: 'leases' }),
    connectionsPerAddress: { max: 2, trustedProxies: 1 },
  });
  running.push(server);
  const port = await server.listen();
  const held = [await from(port, '192.0.2.44'), await from(port, '192.0.2.44')];
  await expect(from(port, '192.0.2.44')).rejects.toThrow('HTTP 429');
  held.forEach(ws => ws.close());
}, 20_000);
