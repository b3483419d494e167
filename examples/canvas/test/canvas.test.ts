import { execFile } from 'child_process';
import * as path from 'path';
import { promisify } from 'util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import Redis from 'ioredis';
import { CanvasClient } from './canvas-client';
import { startServer, ServerProcess } from '../../../test/support/node-server';
import { RedisClusterProcess, RedisProcess, startRedis, startRedisCluster } from '../../../test/support/redis-server';
import { LocalDynamoDb, startLocalDynamoDb } from '../../shared/local-dynamodb';
import { getPixel } from '../server/board';
import { PLACEMENTS_TABLE_KEY } from '../server/table';

const ENTRY = path.join(__dirname, '..', 'server', 'server.ts');
const REBUILD = path.join(__dirname, '..', 'server', 'rebuild.ts');
const TSX = path.join(__dirname, '..', '..', '..', 'node_modules', '.bin', 'tsx');
const SIZE = 64;
const AUTH = 'canvas-test-token';

let dynamo: LocalDynamoDb;
let tableCount = 0;

beforeAll(async () => { dynamo = await startLocalDynamoDb(); });
afterAll(async () => { await dynamo.stop(); });

async function newTable(): Promise<string> {
  const name = `placements-${++tableCount}`;
  await dynamo.createTable(name, PLACEMENTS_TABLE_KEY);
  return name;
}

function canvasEnv(busUrl: string, table: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    REALTIME_BUS_URL: busUrl,
    REALTIME_BUS_AUTH: AUTH,
    DYNAMODB_ENDPOINT: dynamo.endpoint,
    CANVAS_TABLE: table,
    CANVAS_TOKEN_SECRET: 'a-shared-secret-for-both-servers',
    CANVAS_WIDTH: String(SIZE),
    CANVAS_HEIGHT: String(SIZE),
    CANVAS_BOARD_CACHE_MS: '0',
    CANVAS_SESSIONS_PER_MINUTE: '100000',
    // Every test client is 127.0.0.1; test/address-limits.test.ts covers the defaults.
    CANVAS_PLACEMENTS_PER_ADDRESS: '100000',
    LOG_LEVEL: 'warn',
    ...extra,
  };
}

async function storedPlacements(table: string): Promise<Array<{ pixel: number; seq: number; color: number; user: string }>> {
  const db = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'l', secretAccessKey: 'l' } }));
  const items: any[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await db.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  db.destroy();
  return items.filter(item => item.pixel >= 0); // not the sequence item (server/sequence.ts)
}

describe('two canvas servers on one redis-server and a DynamoDB-API store', () => {
  let redis: RedisProcess;
  let table: string;
  let servers: ServerProcess[];
  let a: CanvasClient;
  let b: CanvasClient;

  beforeAll(async () => {
    redis = await startRedis({ password: AUTH });
    table = await newTable();
    servers = await Promise.all([0, 1].map(() => startServer(ENTRY, canvasEnv(redis.url, table))));
    [a, b] = servers.map(s => new CanvasClient(s.port));
  });
  afterAll(async () => {
    await Promise.all(servers.map(s => s.stop()));
    await redis.stop();
  });

  test('a placement through one server reaches the WebSocket clients of the other, in a binary frame', async () => {
    const watcher = await b.watch();
    const token = await a.session();
    const res = await a.place(token, { x: 3, y: 4, color: 5 });
    expect(res.status).toBe(200);
    const { seq } = await res.json();
    expect(await watcher.waitFor(seq)).toEqual({ seq, x: 3, y: 4, color: 5 });
    watcher.ws.close();
  });

  test('the cooldown holds across both servers and says how long is left', async () => {
    const token = await a.session();
    expect((await a.place(token, { x: 1, y: 1, color: 2 })).status).toBe(200);
    const refused = await b.place(token, { x: 2, y: 2, color: 2 });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(295);
    expect(await refused.json()).toEqual({ error: 'cooldown', message: expect.stringMatching(/^wait (299|300) more seconds before placing another pixel$/) });
  });

  test('the board snapshot carries its sequence, is gzip-compressed and revalidates with its ETag', async () => {
    const token = await a.session();
    const placed = await (await a.place(token, { x: 10, y: 20, color: 9 })).json();
    const res = await fetch(`${b.base}/api/board`, { headers: { 'accept-encoding': 'gzip' } });
    expect(res.headers.get('content-encoding')).toBe('gzip');
    expect(res.headers.get('cache-control')).toBe('public, max-age=1, stale-while-revalidate=2');
    const seq = Number(res.headers.get('x-board-seq'));
    expect(seq).toBeGreaterThanOrEqual(placed.seq);
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(bytes.length).toBe((SIZE * SIZE) / 2);
    expect(getPixel(bytes, 20 * SIZE + 10)).toBe(9);
    const again = await fetch(`${b.base}/api/board`, { headers: { 'if-none-match': res.headers.get('etag')! } });
    expect(again.status).toBe(304);
  });

  test('every accepted placement is stored with its time and user; history is queryable per pixel, newest first', async () => {
    const seqs: number[] = [];
    for (const color of [1, 2, 3]) {
      const token = await a.session();
      seqs.push((await (await a.place(token, { x: 7, y: 7, color })).json()).seq);
    }
    const history = await (await fetch(`${b.base}/api/pixel?x=7&y=7`)).json();
    expect(history.placements.map((p: any) => [p.seq, p.color])).toEqual([[seqs[2], 3], [seqs[1], 2], [seqs[0], 1]]);
    expect(history.placements[0]).toEqual({ seq: seqs[2], color: 3, user: expect.stringMatching(/^[A-Za-z0-9_-]{12}$/), time: expect.any(Number) });
  });

  test('the board rebuilt from DynamoDB into an empty Redis equals the live one', async () => {
    await Promise.all(Array.from({ length: 60 }, async (_, i) => {
      const client = i % 2 ? a : b;
      const res = await client.place(await client.session(), { x: i % 8, y: (i * 7) % SIZE, color: i % 16 });
      expect(res.status).toBe(200);
    }));
    const empty = await startRedis({ password: AUTH });
    try {
      await promisify(execFile)(TSX, [REBUILD], { env: { ...process.env, ...canvasEnv(empty.url, table) } });
      const live = new Redis(redis.port, '127.0.0.1', { password: AUTH });
      const rebuilt = new Redis(empty.port, '127.0.0.1', { password: AUTH });
      const [liveBoard, rebuiltBoard] = await Promise.all([live.getBuffer('{canvas}:board'), rebuilt.getBuffer('{canvas}:board')]);
      expect(rebuiltBoard!.equals(Buffer.concat([liveBoard!, Buffer.alloc((SIZE * SIZE) / 2 - liveBoard!.length)]))).toBe(true);
      // The rebuilt board continues at or above the durable high-water mark (server/sequence.ts), never below the live one.
      expect(Number(await rebuilt.get('{canvas}:seq'))).toBeGreaterThanOrEqual(Number(await live.get('{canvas}:seq')));
      live.disconnect();
      rebuilt.disconnect();
      // A second run refuses to overwrite the board it finds.
      await expect(promisify(execFile)(TSX, [REBUILD], { env: { ...process.env, ...canvasEnv(empty.url, table) } }))
        .rejects.toThrow(/already holds a board; pass --force/);
    } finally {
      await empty.stop();
    }
  });

  test.each<[string, string | undefined, unknown, { contentType?: string; raw?: string }, number, string]>([
    ['x out of range', 'token', { x: SIZE, y: 0, color: 1 }, {}, 400, 'bad_pixel'],
    ['negative y', 'token', { x: 0, y: -1, color: 1 }, {}, 400, 'bad_pixel'],
    ['fractional x', 'token', { x: 1.5, y: 0, color: 1 }, {}, 400, 'bad_pixel'],
    ['colour 16', 'token', { x: 0, y: 0, color: 16 }, {}, 400, 'bad_pixel'],
    ['colour as a name', 'token', { x: 0, y: 0, color: 'red' }, {}, 400, 'bad_pixel'],
    ['an extra field', 'token', { x: 0, y: 0, color: 1, user: 'me' }, {}, 400, 'bad_pixel'],
    ['malformed JSON', 'token', undefined, { raw: '{"x":1,' }, 400, 'bad_json'],
    ['an oversized body', 'token', undefined, { raw: JSON.stringify({ x: 0, y: 0, color: 1, pad: 'x'.repeat(5000) }) }, 413, 'body_too_large'],
    ['a form body', 'token', undefined, { contentType: 'application/x-www-form-urlencoded', raw: 'x=1' }, 415, 'unsupported_media_type'],
    ['no token', undefined, { x: 0, y: 0, color: 1 }, {}, 401, 'unauthorized'],
    ['a forged token', 'v1.AAAAAAAAAAAA.1795000000.forgedsignatureforgedsignatureforgedsig', { x: 0, y: 0, color: 1 }, {}, 401, 'bad_token'],
    ['garbage for a token', 'not-a-token', { x: 0, y: 0, color: 1 }, {}, 401, 'bad_token'],
  ])('refuses %s with a 4xx and a JSON error, placing nothing', async (_name, token, body, init, status, code) => {
    const before = await a.board();
    const realToken = token === 'token' ? await a.session() : token;
    const res = await a.place(realToken, body, init);
    expect(res.status).toBe(status);
    expect(await res.json()).toEqual({ error: code, message: expect.any(String) });
    expect((await a.board()).seq).toBe(before.seq);
  });

  test('a tampered token (valid signature of another user) is refused', async () => {
    const token = await a.session();
    const [v, user, issued, mac] = token.split('.');
    const other = `${v}.${user.slice(0, 11)}${user[11] === 'A' ? 'B' : 'A'}.${issued}.${mac}`;
    expect((await a.place(other, { x: 0, y: 0, color: 1 })).status).toBe(401);
  });

  test('a client flooding the WebSocket is closed with 1008 while others keep receiving; the server keeps serving', async () => {
    const flooder = await a.watch();
    const calm = await a.watch();
    for (let i = 0; i < 200; i++) {
      flooder.ws.send('{"please":"stop"}');
    }
    expect(await flooder.closed).toBe(1008);
    const res = await b.place(await b.session(), { x: 5, y: 5, color: 4 });
    expect(await calm.waitFor((await res.json()).seq)).toMatchObject({ x: 5, y: 5, color: 4 });
    calm.ws.close();
  });

  test('limits new sessions per client address, as the trusted proxy reports it', async () => {
    const limited = await startServer(ENTRY, canvasEnv(redis.url, table, { CANVAS_SESSIONS_PER_MINUTE: '2', CANVAS_TRUSTED_PROXIES: '1' }));
    try {
      const start = (forwardedFor: string) => fetch(`http://127.0.0.1:${limited.port}/api/session`, { method: 'POST', headers: { 'x-forwarded-for': forwardedFor } });
      // The load balancer appends the real address; a spoofed entry before it changes nothing.
      expect((await start('203.0.113.7')).status).toBe(201);
      expect((await start('1.1.1.1, 203.0.113.7')).status).toBe(201);
      const refused = await start('2.2.2.2, 203.0.113.7');
      expect(refused.status).toBe(429);
      expect(refused.headers.get('retry-after')).toBe('60');
      expect((await start('198.51.100.1')).status).toBe(201);
    } finally {
      await limited.stop();
    }
  });

  test.each<[string, string, string, RegExp]>([
    ['negative x', 'x=-1&y=0', 'bad_pixel', /inside the 64x64 board/],
    ['x not a number', 'x=a&y=0', 'bad_pixel', /whole numbers/],
    ['y past the edge', `x=0&y=${SIZE}`, 'bad_pixel', /inside the 64x64 board/],
    ['no x', 'y=3', 'bad_pixel', /x and y/],
    ['no y', 'x=3', 'bad_pixel', /x and y/],
    ['neither', '', 'bad_pixel', /x and y/],
    ['an empty x', 'x=&y=0', 'bad_pixel', /x and y/],
    ['limit above 100', 'x=0&y=0&limit=1000', 'bad_limit', /from 1 to 100/],
    ['limit 0', 'x=0&y=0&limit=0', 'bad_limit', /from 1 to 100/],
    ['an empty limit', 'x=0&y=0&limit=', 'bad_limit', /from 1 to 100/],
    ['a fractional limit', 'x=0&y=0&limit=2.5', 'bad_limit', /from 1 to 100/],
  ])('refuses a history query with %s with a 400 that says the range', async (_name, query, code, message) => {
    const res = await fetch(`${a.base}/api/pixel?${query}`);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: code, message: expect.stringMatching(message) });
  });

  test('a history query inside the ranges is answered', async () => {
    expect((await fetch(`${a.base}/api/pixel?x=0&y=0&limit=100`)).status).toBe(200);
    expect((await fetch(`${a.base}/api/pixel?x=${SIZE - 1}&y=${SIZE - 1}&limit=1`)).status).toBe(200);
  });
});

describe('failures: Redis restarts, and a server drains on SIGTERM', () => {
  let redis: RedisProcess;

  beforeEach(async () => { redis = await startRedis({ password: AUTH }); });
  afterEach(async () => { await redis.stop(); });

  /** Places continuously through the clients until `stop` resolves; returns the accepted placements. */
  type Accepted = { seq: number; pixel: number; at: number };
  async function placeUntil(clients: CanvasClient[], stop: Promise<unknown>): Promise<{ accepted: Accepted[]; refused: number }> {
    let done = false;
    void stop.then(() => { done = true; });
    const accepted: Accepted[] = [];
    let refused = 0;
    await Promise.all(clients.map(async (client, c) => {
      for (let i = 0; !done; i++) {
        try {
          const token = await client.session();
          const x = (i * 5 + c) % SIZE;
          const res = await client.place(token, { x, y: c, color: i % 16 });
          if (res.status === 200) {
            accepted.push({ seq: (await res.json()).seq, pixel: c * SIZE + x, at: Date.now() });
          } else {
            refused++;
            await res.text();
          }
        } catch {
          refused++;
          await new Promise(r => setTimeout(r, 20));
        }
      }
    }));
    return { accepted, refused };
  }

  test('after a Redis restart the servers recover, restore the board from DynamoDB, and no accepted placement is lost', async () => {
    const table = await newTable();
    const servers = await Promise.all([0, 1].map(() => startServer(ENTRY, canvasEnv(redis.url, table, { CANVAS_COOLDOWN_SECONDS: '0' }))));
    const clients = servers.map(s => new CanvasClient(s.port));
    try {
      let restartedAt = 0;
      const run = placeUntil(clients, (async () => {
        await new Promise(r => setTimeout(r, 1500));
        const port = redis.port;
        await redis.stop();
        await new Promise(r => setTimeout(r, 1000));
        redis = await startRedis({ port, password: AUTH });
        restartedAt = Date.now();
        await new Promise(r => setTimeout(r, 4000));
      })());
      const { accepted } = await run;
      expect(accepted.filter(p => p.at < restartedAt).length).toBeGreaterThan(0);
      expect(accepted.filter(p => p.at > restartedAt).length).toBeGreaterThan(0);
      // Every answer of 200 is in DynamoDB.
      const stored = new Set((await storedPlacements(table)).map(p => `${p.pixel}:${p.seq}`));
      expect(accepted.filter(p => !stored.has(`${p.pixel}:${p.seq}`))).toEqual([]);
      // The restarted Redis lost everything; the board was restored and sequence numbers kept rising.
      const seqs = accepted.map(p => p.seq);
      expect(new Set(seqs).size).toBe(seqs.length);
      const board = await clients[0].board();
      expect(board.seq).toBe(Math.max(...seqs));
      const newest = new Map<number, number>();
      for (const p of await storedPlacements(table)) {
        if ((newest.get(p.pixel) ?? -1) < p.seq) {
          newest.set(p.pixel, p.seq);
        }
      }
      const colors = new Map((await storedPlacements(table)).map(p => [`${p.pixel}:${p.seq}`, p.color]));
      for (const [pixel, seq] of newest) {
        expect(getPixel(board.bytes, pixel)).toBe(colors.get(`${pixel}:${seq}`));
      }
    } finally {
      await Promise.all(servers.map(s => s.stop()));
    }
  });

  test('SIGTERM closes clients with 1012, loses no accepted placement and exits 0', async () => {
    const table = await newTable();
    const server = await startServer(ENTRY, canvasEnv(redis.url, table, { CANVAS_COOLDOWN_SECONDS: '0', REALTIME_DRAIN_SECONDS: '2' }));
    const client = new CanvasClient(server.port);
    const watchers = await Promise.all(Array.from({ length: 20 }, () => client.watch()));
    const { accepted } = await placeUntil([client, client, client], (async () => {
      await new Promise(r => setTimeout(r, 800));
      server.proc.kill('SIGTERM');
      await server.exited;
    })());
    expect(await server.exited).toBe(0);
    expect(accepted.length).toBeGreaterThan(10);
    expect(await Promise.all(watchers.map(w => w.closed))).toEqual(watchers.map(() => 1012));
    const stored = new Set((await storedPlacements(table)).map(p => `${p.pixel}:${p.seq}`));
    expect(accepted.filter(p => !stored.has(`${p.pixel}:${p.seq}`))).toEqual([]);
    // The answer goes out before the update is settled and published; shutdown still waits for both, so
    // every accepted placement's update is kept for /api/updates (pages on other servers repair from it).
    const live = new Redis(redis.port, '127.0.0.1', { password: AUTH });
    try {
      const kept = new Set((await live.zrangebyscore('{canvas}:recent', '-inf', '+inf', 'WITHSCORES')).filter((_, i) => i % 2 === 1).map(Number));
      expect(accepted.filter(p => !kept.has(p.seq))).toEqual([]);
    } finally {
      live.disconnect();
    }
  });
});

describe('canvas servers on a 3-node Redis Cluster (hash-tagged keys, sharded pub/sub)', () => {
  let cluster: RedisClusterProcess;
  let servers: ServerProcess[];

  beforeAll(async () => {
    cluster = await startRedisCluster({ password: AUTH });
    const table = await newTable();
    servers = await Promise.all([0, 1].map(() => startServer(ENTRY, canvasEnv(cluster.url, table, { REALTIME_BUS_CLUSTER: 'true' }))));
  }, 60_000);
  afterAll(async () => {
    await Promise.all((servers ?? []).map(s => s.stop()));
    await cluster?.stop();
  });

  test('places, snapshots and fans out across servers', async () => {
    const [a, b] = servers.map(s => new CanvasClient(s.port));
    const watcher = await b.watch();
    const res = await a.place(await a.session(), { x: 9, y: 9, color: 12 });
    expect(res.status).toBe(200);
    const { seq } = await res.json();
    expect(await watcher.waitFor(seq)).toEqual({ seq, x: 9, y: 9, color: 12 });
    const board = await b.board();
    expect(getPixel(board.bytes, 9 * SIZE + 9)).toBe(12);
    watcher.ws.close();
  });
});
