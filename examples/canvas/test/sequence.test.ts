import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import Redis from 'ioredis';
import { CanvasClient } from './canvas-client';
import { DynamoProxy, startDynamoProxy } from './dynamo-proxy';
import { CANVAS_ENTRY, LocalCanvas, startLocalCanvas } from './local-canvas';
import { startServer, ServerProcess } from '../../../test/support/node-server';
import { RedisProcess, startRedis } from '../../../test/support/redis-server';
import { getPixel, RedisBoardStore, setPixel } from '../server/board';
import { PlacementLog } from '../server/placements';
import { decodeFrame, Update } from '../server/protocol';
import { restoreBoard } from '../server/restore';
import { SequenceLedger } from '../server/sequence';
import { PLACEMENTS_TABLE_KEY } from '../server/table';

const AUTH = 'canvas-sequence-token';
const TSX = path.join(__dirname, '..', '..', '..', 'node_modules', '.bin', 'tsx');
const REBUILD_ENTRY = path.join(__dirname, '..', 'server', 'rebuild.ts');
const SIZE = 16;
const size = { width: SIZE, height: SIZE };

let local: LocalCanvas;
let proxy: DynamoProxy;
const cleanups: Array<() => Promise<unknown> | unknown> = [];
beforeAll(async () => {
  local = await startLocalCanvas(AUTH);
  proxy = await startDynamoProxy(local.dynamo.endpoint);
});
afterEach(async () => {
  proxy.release();
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup();
  }
});
afterAll(async () => {
  await proxy.stop();
  await local.stop();
});

let tables = 0;
async function newTable(): Promise<string> {
  const name = `sequence-${++tables}`;
  await local.dynamo.createTable(name, PLACEMENTS_TABLE_KEY);
  return name;
}

/** The stored placements, read straight from the table (not through our code), without the sequence item. */
async function stored(table: string): Promise<Array<{ pixel: number; seq: number; color: number }>> {
  const db = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: local.dynamo.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'l', secretAccessKey: 'l' } }));
  const items: any[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await db.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start, ConsistentRead: true }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  db.destroy();
  return items.filter(item => item.pixel >= 0);
}

/** The board as the table has it: every pixel's placement with the highest sequence number. */
function boardOf(placements: Array<{ pixel: number; seq: number; color: number }>): Buffer {
  const newest = new Map<number, { seq: number; color: number }>();
  for (const p of placements) {
    if ((newest.get(p.pixel)?.seq ?? -1) < p.seq) {
      newest.set(p.pixel, p);
    }
  }
  const bytes = Buffer.alloc((SIZE * SIZE) / 2);
  newest.forEach((p, pixel) => setPixel(bytes, pixel, p.color));
  return bytes;
}

function differing(a: Buffer, b: Buffer): number[] {
  return Array.from({ length: SIZE * SIZE }, (_, i) => i).filter(i => getPixel(a, i) !== getPixel(b, i));
}

function redisClient(port: number, db = 0): Redis {
  const client = new Redis(port, '127.0.0.1', { password: AUTH, db, maxRetriesPerRequest: 1 });
  cleanups.push(() => client.disconnect());
  return client;
}

/** A store and what restores it, as a server builds them, on one Redis database. */
function parts(table: string, db: number, endpoint = local.dynamo.endpoint) {
  const ledger = new SequenceLedger({ tableName: table, endpoint: local.dynamo.endpoint });
  const placements = new PlacementLog({ tableName: table, endpoint });
  const store = new RedisBoardStore(redisClient(local.redis.port, db), size, ledger);
  cleanups.push(() => { ledger.close(); placements.close(); });
  return { ledger, placements, store };
}

async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`${what}: not within ${timeoutMs} ms`);
    }
    await new Promise(r => setTimeout(r, 100));
  }
}

let addresses = 0;
/** A new user on a new address places a pixel; resolves with the answer once there is one. */
async function place(client: CanvasClient, pixel: { x: number; y: number; color: number }): Promise<{ status: number; seq?: number }> {
  const headers = { 'x-forwarded-for': `198.51.100.${++addresses}` };
  const res = await client.place(await client.session(headers), pixel, { headers });
  const body = await res.json();
  return { status: res.status, seq: body.seq };
}

/** Places until the server accepts (it may answer 503 while its Redis comes back). */
async function placeAccepted(client: CanvasClient, pixel: { x: number; y: number; color: number }): Promise<number> {
  return eventually(`placement at ${pixel.x},${pixel.y}`, async () => {
    const answer = await place(client, pixel);
    return answer.status === 200 ? answer.seq : undefined;
  });
}

describe('the rebuild and the restore', () => {
  test('the rebuild scans with strongly consistent reads and leaves the sequence item out', async () => {
    const table = await newTable();
    const { ledger, placements: direct } = parts(table, 1);
    await ledger.beginRestore();
    for (let i = 0; i < 30; i++) {
      void direct.append({ pixel: i, seq: i + 1, x: i % SIZE, y: Math.floor(i / SIZE), color: i % 16, user: 'u', time: Date.now() });
    }
    await direct.flush();
    const viaProxy = new PlacementLog({ tableName: table, endpoint: proxy.endpoint });
    cleanups.push(() => viaProxy.close());
    const before = proxy.requests.length;
    const rebuilt = await viaProxy.rebuild(size);
    const scans = proxy.requests.slice(before).filter(r => r.operation === 'Scan');
    expect(scans.length).toBeGreaterThanOrEqual(4);
    expect(scans.filter(r => JSON.parse(r.body).ConsistentRead !== true)).toEqual([]);
    expect(rebuilt.placements).toBe(30);
    expect(rebuilt.seq).toBe(30);
    expect(differing(rebuilt.bytes, boardOf(await stored(table)))).toEqual([]);
    expect(rebuilt.cellSeq.readUInt32BE(29 * 4)).toBe(30);
  });

  test('a restore continues above every number handed out, also those never stored (writes still in flight)', async () => {
    const table = await newTable();
    const { ledger, placements, store } = parts(table, 2);
    await redisClient(local.redis.port, 2).flushdb();
    expect(await restoreBoard({ store, ledger, placements, size })).toMatchObject({ kind: 'restored' });
    const stored1 = await store.place(1, 3, 'a', 0);
    if (stored1.kind !== 'placed') {
      throw new Error(stored1.kind);
    }
    await placements.append({ pixel: 1, seq: stored1.seq, x: 1, y: 0, color: 3, user: 'a', time: Date.now() });
    // Handed out by Redis, but their DynamoDB writes have not landed when Redis loses everything.
    const inFlight: number[] = [];
    for (let i = 0; i < 5; i++) {
      const placed = await store.place(10 + i, 7, `b${i}`, 0);
      inFlight.push(placed.kind === 'placed' ? placed.seq : -1);
    }
    // Every number handed out was durably reserved first.
    expect((await ledger.read()).hwm).toBeGreaterThanOrEqual(Math.max(...inFlight));
    await redisClient(local.redis.port, 2).flushdb();
    expect(await store.place(2, 1, 'c', 0)).toEqual({ kind: 'missing' });
    const restored = await restoreBoard({ store, ledger, placements, size });
    expect(restored).toMatchObject({ kind: 'restored' });
    const next = await store.place(2, 1, 'c', 0);
    expect(next.kind).toBe('placed');
    expect((next as { seq: number }).seq).toBeGreaterThan(Math.max(stored1.seq, ...inFlight));
  });

  test('a board whose epoch a restore fenced (the restorer died) hands out only numbers it reserved before, then asks to be rebuilt over', async () => {
    const table = await newTable();
    // Small blocks, so the board runs out of reserved numbers within a few placements.
    const ledger = new SequenceLedger({ tableName: table, endpoint: local.dynamo.endpoint, block: 4 });
    const placements = new PlacementLog({ tableName: table, endpoint: local.dynamo.endpoint });
    cleanups.push(() => { ledger.close(); placements.close(); });
    const store = new RedisBoardStore(redisClient(local.redis.port, 5), size, ledger);
    await redisClient(local.redis.port, 5).flushdb();
    const first = await restoreBoard({ store, ledger, placements, size });
    expect(first).toMatchObject({ kind: 'restored' });
    const epoch = (first as { epoch: number }).epoch;
    expect(await store.place(0, 1, 'a', 0)).toMatchObject({ kind: 'placed', epoch });
    // Another process began a restore and died before writing its board.
    const fence = await ledger.beginRestore();
    const before: number[] = [];
    for (let i = 1; ; i++) {
      const result = await store.place(i, 2, `u${i}`, 0);
      if (result.kind !== 'placed') {
        expect(result).toEqual({ kind: 'stale', epoch });
        break;
      }
      before.push(result.seq);
    }
    expect(Math.max(...before)).toBeLessThanOrEqual(fence.hwm);
    expect(await restoreBoard({ store, ledger, placements, size })).toEqual({ kind: 'present' });
    expect(await restoreBoard({ store, ledger, placements, size, replaceEpoch: epoch })).toMatchObject({ kind: 'restored', epoch: fence.epoch + 1 });
    const after = await store.place(9, 3, 'v', 0);
    expect(after).toMatchObject({ kind: 'placed', epoch: fence.epoch + 1 });
    expect((after as { seq: number }).seq).toBeGreaterThan(fence.hwm);
  });

  test('the lock holder extends its lock through a rebuild longer than the lock, and a second process does not rebuild meanwhile', async () => {
    const table = await newTable();
    const a = parts(table, 3, proxy.endpoint);
    const b = parts(table, 3, proxy.endpoint);
    await redisClient(local.redis.port, 3).flushdb();
    const lock = redisClient(local.redis.port, 3);
    const epochBefore = (await a.ledger.read()).epoch;
    const lockMs = 1000;
    proxy.delay('Scan', 3 * lockMs);
    const started = Date.now();
    let done = false;
    const run = restoreBoard({ store: a.store, ledger: a.ledger, placements: a.placements, size, lockMs }).finally(() => { done = true; });
    const seen: Array<{ at: number; pttl: number; second?: string }> = [];
    while (!done) {
      await new Promise(r => setTimeout(r, 200));
      const at = Date.now() - started;
      const pttl = await lock.pttl('{canvas}:restore-lock');
      const second = at > 1.3 * lockMs && !done
        ? (await restoreBoard({ store: b.store, ledger: b.ledger, placements: b.placements, size, lockMs })).kind
        : undefined;
      seen.push({ at, pttl, second });
    }
    proxy.delay('Scan', 0);
    expect(await run).toMatchObject({ kind: 'restored', epoch: epochBefore + 1 });
    expect(Date.now() - started).toBeGreaterThan(2.5 * lockMs);
    // Past its first time to live the lock was still held, and the second process found it busy.
    const late = seen.filter(s => s.at > 1.3 * lockMs && s.at < 2.5 * lockMs);
    expect(late.length).toBeGreaterThan(0);
    expect(late.filter(s => s.pttl <= 0)).toEqual([]);
    expect(late.map(s => s.second).filter(k => k !== undefined && k !== 'busy')).toEqual([]);
    expect(late.some(s => s.second === 'busy')).toBe(true);
    // Only one rebuild began: the durable epoch went up by one.
    expect((await a.ledger.read()).epoch).toBe(epochBefore + 1);
  }, 30_000);

  test('a holder whose lock ran out cannot overwrite a newer restore, and its epoch can take no more numbers', async () => {
    const table = await newTable();
    const a = parts(table, 4);
    const b = parts(table, 4);
    await redisClient(local.redis.port, 4).flushdb();
    await a.placements.append({ pixel: 5, seq: 1, x: 5, y: 0, color: 2, user: 'u', time: Date.now() });
    expect(await a.store.lockRestore('token-a', 300)).toBe(true);
    const { epoch: staleEpoch, hwm } = await a.ledger.beginRestore();
    const rebuilt = await a.placements.rebuild(size);
    await new Promise(r => setTimeout(r, 400));
    // The lock ran out; another process restores, and places on its board.
    const newer = await restoreBoard({ store: b.store, ledger: b.ledger, placements: b.placements, size });
    expect(newer).toMatchObject({ kind: 'restored', epoch: staleEpoch + 1 });
    expect(await b.store.place(6, 9, 'v', 0)).toMatchObject({ kind: 'placed' });
    const board = await b.store.snapshot();
    const stale = { seq: Math.max(hwm, rebuilt.seq), epoch: staleEpoch, bytes: rebuilt.bytes, cellSeq: rebuilt.cellSeq };
    expect(await a.store.restoreRebuilt(stale, 'token-a')).toBe('lock_lost');
    // Even holding the lock again, an older epoch does not replace a newer board.
    expect(await a.store.lockRestore('token-a2', 5000)).toBe(true);
    expect(await a.store.restoreRebuilt(stale, 'token-a2')).toBe('newer_board');
    await a.store.unlockRestore('token-a2');
    expect(await b.store.snapshot()).toEqual(board);
    expect(getPixel(board!.bytes, 6)).toBe(9);
    // A board of the fenced epoch cannot reserve numbers any more.
    expect(await a.ledger.reserve(staleEpoch)).toBeUndefined();
    // Only the holder extends or releases the lock.
    expect(await a.store.lockRestore('token-c', 5000)).toBe(true);
    expect(await a.store.extendRestore('token-d', 60_000)).toBe(false);
    await a.store.unlockRestore('token-d');
    expect(await redisClient(local.redis.port, 4).get('{canvas}:restore-lock')).toBe('token-c');
    expect(await a.store.extendRestore('token-c', 60_000)).toBe(true);
    expect(await redisClient(local.redis.port, 4).pttl('{canvas}:restore-lock')).toBeGreaterThan(5000);
    await a.store.unlockRestore('token-c');
    expect(await redisClient(local.redis.port, 4).exists('{canvas}:restore-lock')).toBe(0);
  });
});

describe('placements asked in one event-loop turn', () => {
  /** Calls of the place script so far, from Redis's own command statistics. */
  async function placeScriptCalls(redis: Redis): Promise<number> {
    const stats = await redis.info('commandstats');
    return Number(/cmdstat_evalsha:calls=(\d+)/.exec(stats)?.[1] ?? 0) + Number(/cmdstat_eval:calls=(\d+)/.exec(stats)?.[1] ?? 0);
  }

  test('go to Redis in one script and come out as if placed one by one, also across sequence reservations', async () => {
    const table = await newTable();
    // Blocks of 8, so the 40 placements below run out of reserved numbers several times within the turn.
    const ledger = new SequenceLedger({ tableName: table, endpoint: local.dynamo.endpoint, block: 8 });
    const placements = new PlacementLog({ tableName: table, endpoint: local.dynamo.endpoint });
    cleanups.push(() => { ledger.close(); placements.close(); });
    const admin = redisClient(local.redis.port, 6);
    await admin.flushdb();
    const store = new RedisBoardStore(redisClient(local.redis.port, 6), size, ledger);
    expect(await restoreBoard({ store, ledger, placements, size })).toMatchObject({ kind: 'restored' });
    await store.place(255, 1, 'warm-up', 0); // the script is loaded once (EVAL), then called by its hash
    await admin.config('RESETSTAT');

    const cooldownMs = 60_000;
    const asks = [
      ...Array.from({ length: 40 }, (_, i) => ({ index: i, user: `user-${i}`, address: `net-${i}` })),
      { index: 100, user: 'user-3', address: 'net-3' }, // the same user again: cooling down since its first
      ...Array.from({ length: 3 }, (_, i) => ({ index: 101 + i, user: `shared-${i}`, address: 'shared-net' })), // 2 per address
    ];
    const results = await Promise.all(asks.map(a => store.place(a.index, 5, a.user, cooldownMs, { address: a.address, max: 2 })));

    const placed = results.flatMap(r => r.kind === 'placed' ? [r.seq] : []);
    expect(placed).toHaveLength(42);
    expect(new Set(placed).size).toBe(42);
    // In the order asked: the earlier ask got the lower number.
    expect(placed).toEqual([...placed].sort((a, b) => a - b));
    expect(Math.max(...placed)).toBeLessThanOrEqual((await ledger.read()).hwm);
    expect(results[40]).toMatchObject({ kind: 'cooldown' });
    expect(results.slice(41).map(r => r.kind)).toEqual(['placed', 'placed', 'address_limit']);
    // The refused placement holds neither a cooldown nor a place in its address's count.
    expect(await store.cooldownRemainingMs('shared-2')).toBe(0);
    expect(await admin.get('{canvas}:placements-by:shared-net')).toBe('2');
    expect(await store.cooldownRemainingMs('shared-1')).toBeGreaterThan(cooldownMs - 10_000);
    // One script for the turn, plus one per reservation it waited for: far fewer than one per placement.
    expect(await placeScriptCalls(admin)).toBeLessThanOrEqual(2 + Math.ceil(42 / 8) * 2);
    const board = (await store.snapshot())!;
    expect(getPixel(board.bytes, 3)).toBe(5);
    expect(getPixel(board.bytes, 100)).toBe(0);
    expect(getPixel(board.bytes, 103)).toBe(0);
  });
});

describe('npm run canvas:rebuild', () => {
  async function rebuildCli(env: Record<string, string>, args: string[] = []): Promise<{ code: number; output: string }> {
    return new Promise(resolve => {
      execFile(TSX, [REBUILD_ENTRY, ...args], { env: { ...process.env, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? Number(err.code ?? 1) : 0, output: stdout + stderr });
      });
    });
  }

  test('restores an empty Redis, leaves a trusted board alone, and with --force restores over it under a new epoch', async () => {
    const table = 'rebuild-cli';
    await redisClient(local.redis.port, 0).flushdb();
    const env = await local.serverEnv(table, { CANVAS_WIDTH: String(SIZE), CANVAS_HEIGHT: String(SIZE), LOG_LEVEL: 'info' });
    const { ledger, placements } = parts(table, 0);
    for (let i = 0; i < 5; i++) {
      void placements.append({ pixel: i * 3, seq: i + 1, x: (i * 3) % SIZE, y: 0, color: 2 + i, user: 'u', time: Date.now() });
    }
    await placements.flush();
    const board = () => new RedisBoardStore(redisClient(local.redis.port, 0), size).snapshot();

    const first = await rebuildCli(env);
    expect(first).toMatchObject({ code: 0, output: expect.stringContaining('board rebuilt from the placement history') });
    expect(differing((await board())!.bytes, boardOf(await stored(table)))).toEqual([]);
    expect((await ledger.read()).epoch).toBe(1);

    const again = await rebuildCli(env);
    expect(again).toMatchObject({ code: 1, output: expect.stringContaining('already holds a board; pass --force') });
    expect((await ledger.read()).epoch).toBe(1);

    const forced = await rebuildCli(env, ['--force']);
    expect(forced.code).toBe(0);
    expect((await ledger.read()).epoch).toBe(2);
    expect(Number(await redisClient(local.redis.port, 0).get('{canvas}:epoch'))).toBe(2);
    expect(differing((await board())!.bytes, boardOf(await stored(table)))).toEqual([]);
  }, 120_000);
});

describe('canvas servers across Redis outages (default settings)', () => {
  let redis: RedisProcess;

  async function servers(table: string, count: number, extraRedisArgs: string[] = []): Promise<CanvasClient[]> {
    redis = await startRedis({ password: AUTH, extraArgs: extraRedisArgs });
    cleanups.push(() => redis.stop());
    const env = await local.serverEnv(table, {
      REALTIME_BUS_URL: redis.url,
      DYNAMODB_ENDPOINT: proxy.endpoint,
      CANVAS_WIDTH: String(SIZE),
      CANVAS_HEIGHT: String(SIZE),
    });
    const started: ServerProcess[] = await Promise.all(Array.from({ length: count }, () => startServer(CANVAS_ENTRY, env)));
    cleanups.push(() => Promise.all(started.map(s => s.stop())));
    return started.map(s => new CanvasClient(s.port));
  }

  async function restartRedis(extraArgs: string[] = []): Promise<void> {
    const port = redis.port;
    await redis.stop();
    redis = await startRedis({ port, password: AUTH, extraArgs });
  }

  /** The live board straight from Redis, with no board cache in between. */
  async function liveBoard(): Promise<Buffer> {
    const store = new RedisBoardStore(redisClient(redis.port), size);
    return (await eventually('live board', () => store.snapshot())).bytes;
  }

  test('a write slower than the Redis outage: no sequence number is stored twice, and the board ends equal to the table', async () => {
    const table = 'slow-write';
    const [a, b] = await servers(table, 2);
    expect(await placeAccepted(a, { x: 1, y: 1, color: 3 })).toBeGreaterThan(0);

    // Two placements whose DynamoDB writes are held on the way: Redis handed out their numbers.
    const heldUsers: string[] = [];
    proxy.hold(r => r.operation === 'BatchWriteItem' && heldUsers.some(u => r.body.includes(`"${u}"`)));
    const slow: Array<Promise<{ status: number; seq: number }>> = [];
    for (const [i, pixel] of [{ x: 2, y: 2, color: 5 }, { x: 5, y: 5, color: 6 }].entries()) {
      const headers = { 'x-forwarded-for': `203.0.113.${i + 1}` };
      const token = await a.session(headers);
      heldUsers.push(token.split('.')[1]);
      slow.push(a.place(token, pixel, { headers }).then(async res => ({ status: res.status, seq: (await res.json()).seq as number })));
      await eventually(`held write ${i + 1}`, async () => proxy.held() === i + 1 || undefined);
    }

    // Redis loses everything while they are in flight; the other server rebuilds the board and goes on.
    await restartRedis();
    const after = await placeAccepted(b, { x: 3, y: 3, color: 7 });
    const newer = await placeAccepted(b, { x: 5, y: 5, color: 9 });
    expect(proxy.held()).toBe(2);
    // A page that loads the restored board before the slow writes land.
    const watcher = await b.watch();
    cleanups.push(() => watcher.ws.close());
    const loaded = await b.board();
    expect(getPixel(loaded.bytes, 2 * SIZE + 2)).toBe(0);

    proxy.release();
    const landed = await Promise.all(slow);
    expect(landed.map(l => l.status)).toEqual([200, 200]);
    expect(after).toBeGreaterThan(Math.max(...landed.map(l => l.seq)));

    const placements = await stored(table);
    expect(placements.length).toBe(5);
    const seqs = placements.map(p => p.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(seqs).toContain(newer);
    const table_ = boardOf(placements);
    // The late write shows where no newer placement holds its cell; the newer one keeps its cell.
    expect(getPixel(table_, 2 * SIZE + 2)).toBe(5);
    expect(getPixel(table_, 5 * SIZE + 5)).toBe(9);
    expect(differing(await liveBoard(), table_)).toEqual([]);
    // The page converges too: its board and the updates after it, applied by per-pixel sequence.
    await eventually('the late pixel on the page', async () => watcher.updates.some(u => u.x === 2 && u.y === 2) || undefined, 5000);
    const res = await fetch(`${b.base}/api/updates?after=${loaded.seq}`);
    expect(res.status).toBe(200);
    const page = Buffer.from(loaded.bytes);
    const cellSeq = new Map<number, number>();
    for (const u of [...decodeFrame(Buffer.from(await res.arrayBuffer())), ...watcher.updates] as Update[]) {
      const cell = u.y * SIZE + u.x;
      if (u.seq > loaded.seq && u.seq > (cellSeq.get(cell) ?? 0)) {
        cellSeq.set(cell, u.seq);
        setPixel(page, cell, u.color);
      }
    }
    expect(differing(page, table_)).toEqual([]);
  }, 90_000);

  test('a Redis that comes back with older data but its keys (a failover or snapshot that lost the last writes) is rebuilt, and sequence numbers go on above the lost ones', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'canvas-sequence-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const table = 'lost-writes';
    const [a] = await servers(table, 1, ['--dir', dir]);
    for (let i = 0; i < 3; i++) {
      await placeAccepted(a, { x: i, y: 0, color: 1 + i });
    }
    const snapshotSeq = Number(await redisClient(redis.port).get('{canvas}:seq'));
    await redisClient(redis.port).save();
    const lost = [await placeAccepted(a, { x: 4, y: 4, color: 8 }), await placeAccepted(a, { x: 0, y: 0, color: 12 })];

    // Back from the snapshot: the sequence key and the board are there, without the last two placements.
    await restartRedis(['--dir', dir]);
    expect(Number(await redisClient(redis.port).get('{canvas}:seq'))).toBe(snapshotSeq);
    expect(snapshotSeq).toBeLessThan(Math.min(...lost));

    const next = await placeAccepted(a, { x: 7, y: 7, color: 4 });
    expect(next).toBeGreaterThan(Math.max(...lost));
    const placements = await stored(table);
    const seqs = placements.map(p => p.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
    const board = await liveBoard();
    expect(getPixel(board, 4 * SIZE + 4)).toBe(8);
    expect(getPixel(board, 0)).toBe(12);
    expect(differing(board, boardOf(placements))).toEqual([]);
    // The board the server serves shows them too (once its cached copy of a second is past).
    await eventually('served board', async () => {
      const served = await a.board();
      return differing(served.bytes, boardOf(placements)).length === 0 || undefined;
    }, 5000);
  }, 60_000);
});
