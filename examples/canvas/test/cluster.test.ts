import Redis from 'ioredis';
import { CanvasClient } from './canvas-client';
import { CANVAS_ENTRY, LocalCanvas, startLocalCanvas } from './local-canvas';
import { startServer, ServerProcess } from '../../../test/support/node-server';
import { RedisClusterProcess, startRedis, startRedisCluster } from '../../../test/support/redis-server';
import { getPixel } from '../server/board';
import { PlacementLog } from '../server/placements';
import { decodeFrame } from '../server/protocol';

// The lean profile puts the canvas on ElastiCache Serverless, which is always cluster mode: the same two
// servers on a three-node redis cluster with REALTIME_BUS_CLUSTER=true (sharded pub/sub; every board key
// in one slot by its {canvas} hash tag, so each script runs on one node).

const AUTH = 'canvas-cluster-token';
const SIZE = 16;

let local: LocalCanvas;
let cluster: RedisClusterProcess;
beforeAll(async () => {
  [local, cluster] = await Promise.all([startLocalCanvas(AUTH), startRedisCluster({ password: AUTH })]);
}, 90_000);
afterAll(async () => {
  await cluster?.stop();
  await local?.stop();
});

test('on a cluster-mode endpoint the board is restored, placements from two servers reach watchers of both, and the board equals the table', async () => {
  const env = {
    ...await local.serverEnv('cluster-placements', { CANVAS_WIDTH: String(SIZE), CANVAS_HEIGHT: String(SIZE) }),
    REALTIME_BUS_URL: cluster.url,
    REALTIME_BUS_CLUSTER: 'true',
  };
  const servers: ServerProcess[] = await Promise.all([0, 1].map(() => startServer(CANVAS_ENTRY, env)));
  const clients = servers.map(s => new CanvasClient(s.port));
  try {
    const watchers = await Promise.all(clients.map(c => c.watch()));
    const seqs: number[] = [];
    const tokens: string[] = [];
    for (let i = 0; i < 8; i++) {
      const headers = { 'x-forwarded-for': `198.18.7.${i}` };
      const client = clients[i % 2];
      tokens.push(await client.session(headers));
      const res = await client.place(tokens[i], { x: i, y: i, color: i + 1 }, { headers });
      expect(res.status).toBe(200);
      seqs.push((await res.json()).seq);
    }
    // A second placement by the same person, on the other server, is refused by the cooldown kept in the cluster.
    const again = await clients[1].place(tokens[0], { x: 9, y: 9, color: 2 }, { headers: { 'x-forwarded-for': '198.18.7.0' } });
    expect(again.status).toBe(429);

    for (const watcher of watchers) {
      for (const seq of seqs) {
        await watcher.waitFor(seq, 5000);
      }
      watcher.ws.close();
    }
    const { seq, bytes } = await clients[0].board();
    expect(seq).toBeGreaterThanOrEqual(Math.max(...seqs));
    const log = new PlacementLog({ tableName: 'cluster-placements', endpoint: local.dynamo.endpoint });
    const stored = await log.rebuild({ width: SIZE, height: SIZE });
    log.close();
    const cells = (board: Buffer) => Array.from({ length: SIZE * SIZE }, (_, i) => getPixel(board, i));
    expect(cells(bytes)).toEqual(cells(stored.bytes));
    // The kept updates answer from the cluster too.
    const kept = await fetch(`${clients[1].base}/api/updates?after=${Math.min(...seqs) - 1}`);
    expect(kept.status).toBe(200);
    expect(decodeFrame(Buffer.from(await kept.arrayBuffer())).map(u => u.seq)).toEqual(expect.arrayContaining(seqs));
  } finally {
    await Promise.all(servers.map(s => s.stop()));
  }
}, 60_000);

test('where scripts may not call INFO, placements still work (the failover check stands aside rather than failing every placement)', async () => {
  const redis = await startRedis({ password: AUTH });
  const admin = new Redis(redis.port, '127.0.0.1', { password: AUTH });
  await admin.call('ACL', 'SETUSER', 'default', '-info');
  await expect(admin.info('server')).rejects.toThrow(/NOPERM/);
  admin.disconnect();
  const env = { ...await local.serverEnv('no-info-placements', { CANVAS_WIDTH: String(SIZE), CANVAS_HEIGHT: String(SIZE) }), REALTIME_BUS_URL: redis.url };
  const server = await startServer(CANVAS_ENTRY, env);
  const client = new CanvasClient(server.port);
  try {
    const watcher = await client.watch();
    const res = await client.place(await client.session(), { x: 3, y: 4, color: 5 });
    expect(res.status).toBe(200);
    const { seq } = await res.json();
    expect(await watcher.waitFor(seq)).toMatchObject({ x: 3, y: 4, color: 5 });
    expect(getPixel((await client.board()).bytes, 4 * SIZE + 3)).toBe(5);
    watcher.ws.close();
  } finally {
    await server.stop();
    await redis.stop();
  }
}, 60_000);
