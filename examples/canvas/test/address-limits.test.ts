import { WebSocket } from 'ws';
import { CanvasClient } from './canvas-client';
import { CANVAS_ENTRY, LocalCanvas, startLocalCanvas } from './local-canvas';
import { startServer, ServerProcess } from '../../../test/support/node-server';

const AUTH = 'canvas-address-token';

// Two servers on one redis-server with the default limits (30 sessions a minute, 4 placements per
// cooldown period, 100 open watchers per address) behind one trusted proxy: the client address is the last X-Forwarded-For entry.
let local: LocalCanvas;
let servers: ServerProcess[];
let clients: CanvasClient[];
beforeAll(async () => {
  local = await startLocalCanvas(AUTH);
  const env = await local.serverEnv('address-placements', { CANVAS_WIDTH: '32', CANVAS_HEIGHT: '32', CANVAS_TRUSTED_PROXIES: '1' });
  servers = await Promise.all([0, 1].map(() => startServer(CANVAS_ENTRY, env)));
  clients = servers.map(s => new CanvasClient(s.port));
});
afterAll(async () => {
  await Promise.all(servers.map(s => s.stop()));
  await local.stop();
});

const from = (address: string) => ({ 'x-forwarded-for': `10.9.9.9, ${address}` });

async function placeFromEach(addresses: string[]): Promise<Response[]> {
  const results: Response[] = [];
  for (const [i, address] of addresses.entries()) {
    const client = clients[i % 2];
    const token = await client.session(from(address));
    results.push(await client.place(token, { x: i % 32, y: 1, color: 3 }, { headers: from(address) }));
  }
  return results;
}

test('one address gets 4 placements per cooldown period however many sessions it starts, over both servers', async () => {
  const results = await placeFromEach(Array(10).fill('203.0.113.40'));
  expect(results.map(r => r.status)).toEqual([200, 200, 200, 200, 429, 429, 429, 429, 429, 429]);
  const refused = results[4];
  const retryAfter = Number(refused.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThan(290);
  expect(retryAfter).toBeLessThanOrEqual(300);
  expect(await refused.json()).toEqual({ error: 'address_limit', message: expect.stringMatching(/^4 pixels were placed from your network in this cooldown period; wait \d+ more seconds$/) });
  // Another address is not affected.
  expect((await placeFromEach(['198.51.100.41']))[0].status).toBe(200);
});

test('an IPv6 client counts by its /64: other addresses in it share the limit, the next /64 does not', async () => {
  const sameNetwork = ['2001:db8:aa:bb::1', '2001:db8:aa:bb::2', '2001:db8:aa:bb:ffff:1:2:3', '2001:0db8:00aa:00bb::9', '2001:db8:aa:bb::5'];
  expect((await placeFromEach(sameNetwork)).map(r => r.status)).toEqual([200, 200, 200, 200, 429]);
  expect((await placeFromEach(['2001:db8:aa:bc::1']))[0].status).toBe(200);
});

test('new sessions are counted per address across both servers (30 a minute)', async () => {
  const statuses: number[] = [];
  for (let i = 0; i < 32; i++) {
    const res = await fetch(`${clients[i % 2].base}/api/session`, { method: 'POST', headers: from('192.0.2.77') });
    statuses.push(res.status);
    if (res.status === 429) {
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(Number(res.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    }
  }
  expect(statuses).toEqual([...Array(30).fill(201), 429, 429]);
  // A spoofed entry further left does not get around it.
  expect((await fetch(`${clients[0].base}/api/session`, { method: 'POST', headers: { 'x-forwarded-for': '1.2.3.4, 192.0.2.77' } })).status).toBe(429);
  expect((await fetch(`${clients[0].base}/api/session`, { method: 'POST', headers: from('192.0.2.78') })).status).toBe(201);
});

test('one address holds at most 100 open watchers over both servers (the default); the 101st upgrade on either is answered 429', async () => {
  const watch = (port: number, address: string) => new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: from(address) });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
  const [a, b] = servers.map(s => s.port);
  const held = await Promise.all(Array.from({ length: 100 }, (_, i) => watch(i % 2 ? a : b, '2001:db8:77:1::1')));
  await expect(watch(a, '2001:db8:77:1::2')).rejects.toThrow('HTTP 429');
  await expect(watch(b, '2001:db8:77:1:ffff::3')).rejects.toThrow('HTTP 429');
  const other = await watch(a, '2001:db8:77:2::1');
  // A watcher closed on one server frees a place on the other.
  held[1].close();
  let again: WebSocket | undefined;
  for (let i = 0; i < 100 && !again; i++) {
    again = await watch(b, '2001:db8:77:1::4').catch(() => undefined);
    if (!again) {
      await new Promise(r => setTimeout(r, 20));
    }
  }
  expect(again).toBeDefined();
  [...held, other, again!].forEach(ws => ws.terminate());
});
