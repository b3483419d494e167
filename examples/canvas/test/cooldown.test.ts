import { CanvasClient } from './canvas-client';
import { CANVAS_ENTRY, LocalCanvas, startLocalCanvas } from './local-canvas';
import { startServer, ServerProcess } from '../../../test/support/node-server';

// GET /api/cooldown tells a page, e.g. after a reload, when its user may place again: read from the
// cooldown key in Redis, so every server answers the same.

const AUTH = 'canvas-cooldown-token';

let local: LocalCanvas;
beforeAll(async () => {
  local = await startLocalCanvas(AUTH);
});
afterAll(() => local.stop());

async function nextPlacementAt(client: CanvasClient, token?: string): Promise<{ status: number; body: any; cacheControl: string | null }> {
  const res = await fetch(`${client.base}/api/cooldown`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.status, body: await res.json(), cacheControl: res.headers.get('cache-control') };
}

test('after a placement on one server, the other server says the default cooldown (300 s) runs until then', async () => {
  const env = await local.serverEnv('cooldown-default', { CANVAS_WIDTH: '16', CANVAS_HEIGHT: '16' });
  const servers: ServerProcess[] = await Promise.all([0, 1].map(() => startServer(CANVAS_ENTRY, env)));
  const [a, b] = servers.map(s => new CanvasClient(s.port));
  try {
    const token = await a.session();
    const before = Date.now();
    const fresh = await nextPlacementAt(b, token);
    expect(fresh.status).toBe(200);
    expect(fresh.cacheControl).toBe('no-store');
    expect(fresh.body.nextPlacementAt).toBeGreaterThanOrEqual(before);
    expect(fresh.body.nextPlacementAt).toBeLessThanOrEqual(Date.now());

    expect((await a.place(token, { x: 1, y: 2, color: 3 })).status).toBe(200);
    const placedAt = Date.now();
    const cooling = await nextPlacementAt(b, token);
    expect(cooling.status).toBe(200);
    expect(cooling.body.nextPlacementAt).toBeGreaterThan(placedAt + 295_000);
    expect(cooling.body.nextPlacementAt).toBeLessThanOrEqual(Date.now() + 300_000);

    // The placement the page would try is refused until the same moment.
    const refused = await b.place(token, { x: 1, y: 3, color: 4 });
    expect(refused.status).toBe(429);
    const retryAfterMs = Number(refused.headers.get('retry-after')) * 1000;
    expect(Math.abs(Date.now() + retryAfterMs - cooling.body.nextPlacementAt)).toBeLessThan(2000);

    // Another user is not cooling down.
    const other = await nextPlacementAt(a, await b.session({ 'x-forwarded-for': '198.18.0.9' }));
    expect(other.body.nextPlacementAt).toBeLessThanOrEqual(Date.now());
  } finally {
    await Promise.all(servers.map(s => s.stop()));
  }
}, 30_000);

test('a cooldown that ran out says now', async () => {
  const env = await local.serverEnv('cooldown-short', { CANVAS_WIDTH: '16', CANVAS_HEIGHT: '16', CANVAS_COOLDOWN_SECONDS: '1' });
  const server = await startServer(CANVAS_ENTRY, env);
  const client = new CanvasClient(server.port);
  try {
    const token = await client.session({ 'x-forwarded-for': '198.18.1.1' });
    expect((await client.place(token, { x: 0, y: 0, color: 1 }, { headers: { 'x-forwarded-for': '198.18.1.1' } })).status).toBe(200);
    const cooling = await nextPlacementAt(client, token);
    expect(cooling.body.nextPlacementAt).toBeGreaterThan(Date.now());
    await new Promise(r => setTimeout(r, Math.max(0, cooling.body.nextPlacementAt - Date.now()) + 50));
    expect((await nextPlacementAt(client, token)).body.nextPlacementAt).toBeLessThanOrEqual(Date.now());
  } finally {
    await server.stop();
  }
}, 30_000);

test('without a valid token it is a 401 naming the fix', async () => {
  const env = await local.serverEnv('cooldown-auth', { CANVAS_WIDTH: '16', CANVAS_HEIGHT: '16' });
  const server = await startServer(CANVAS_ENTRY, env);
  const client = new CanvasClient(server.port);
  try {
    expect(await nextPlacementAt(client)).toMatchObject({ status: 401, body: { error: 'unauthorized', message: expect.stringMatching(/POST \/api\/session/) } });
    expect(await nextPlacementAt(client, 'not-a-token')).toMatchObject({ status: 401, body: { error: 'bad_token' } });
  } finally {
    await server.stop();
  }
}, 30_000);
