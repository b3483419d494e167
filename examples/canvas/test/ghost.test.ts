import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import Redis from 'ioredis';
import { CanvasClient } from './canvas-client';
import { CANVAS_ENTRY, LocalCanvas, startLocalCanvas } from './local-canvas';
import { startServer, ServerProcess } from '../../../test/support/node-server';
import { getPixel, MemoryBoardStore, RedisBoardStore } from '../server/board';

const SIZE = 32;
const AUTH = 'canvas-ghost-token';

let local: LocalCanvas;
beforeAll(async () => {
  local = await startLocalCanvas(AUTH);
});
afterAll(() => local.stop());

test('a placement that DynamoDB does not store leaves no pixel, is not published, and lifts the cooldown (default board cache)', async () => {
  const env = await local.serverEnv('ghost-placements', { CANVAS_WIDTH: String(SIZE), CANVAS_HEIGHT: String(SIZE) });
  const servers: ServerProcess[] = await Promise.all([0, 1].map(() => startServer(CANVAS_ENTRY, env)));
  const [a, b] = servers.map(s => new CanvasClient(s.port));
  const cell = 9 * SIZE + 9;
  try {
    const stored = await a.place(await a.session(), { x: 9, y: 9, color: 5 });
    expect(stored.status).toBe(200);
    const storedSeq = (await stored.json()).seq;
    const watcher = await b.watch();

    const db = new DynamoDBClient({ endpoint: local.dynamo.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'l', secretAccessKey: 'l' } });
    await db.send(new DeleteTableCommand({ TableName: 'ghost-placements' }));
    db.destroy();

    const token = await a.session();
    const failed = await a.place(token, { x: 9, y: 9, color: 7 });
    expect(failed.status).toBe(503);
    expect(await failed.json()).toEqual({ error: 'not_stored', message: expect.any(String) });
    // The cooldown is lifted: the same user is not told to wait (the store still fails, so 503 again).
    expect((await a.place(token, { x: 9, y: 9, color: 7 })).status).toBe(503);

    // Straight after the 503, and on every later board of either server, the cell has its old colour.
    const direct = new Redis(local.redis.port, '127.0.0.1', { password: AUTH });
    expect(getPixel((await direct.getBuffer('{canvas}:board'))!, cell)).toBe(5);
    direct.disconnect();
    expect(getPixel((await a.board()).bytes, cell)).toBe(5);
    await new Promise(r => setTimeout(r, 1200));
    for (const client of [a, b]) {
      expect(getPixel((await client.board()).bytes, cell)).toBe(5);
    }
    // The failed colour never went out on the stream; the cell's colour went out again under a newer sequence.
    await new Promise(r => setTimeout(r, 300));
    expect(watcher.updates.filter(u => u.color === 7)).toEqual([]);
    const last = watcher.updates.filter(u => u.x === 9 && u.y === 9).pop();
    expect(last).toMatchObject({ x: 9, y: 9, color: 5 });
    expect(last!.seq).toBeGreaterThan(storedSeq);
    watcher.ws.close();
  } finally {
    await Promise.all(servers.map(s => s.stop()));
  }
}, 60_000);

describe.each([
  ['Redis', async () => {
    const client = new Redis(local.redis.port, '127.0.0.1', { password: AUTH, db: 1 });
    await client.flushdb();
    return new RedisBoardStore(client, { width: SIZE, height: SIZE });
  }],
  ['memory', async () => new MemoryBoardStore({ width: SIZE, height: SIZE })],
])('taking back a placement in the %s store', (_name, open) => {
  const pixelOf = async (store: RedisBoardStore | MemoryBoardStore) => getPixel((await store.snapshot())!.bytes, 3);

  test('restores the earlier colour under a new sequence, unless a newer placement holds the cell', async () => {
    const store = await open();
    await store.restore({ seq: 0, bytes: Buffer.alloc((SIZE * SIZE) / 2) });
    const first = await store.place(3, 4, 'u1', 0);
    const second = await store.place(3, 6, 'u2', 60_000);
    const third = await store.place(3, 8, 'u3', 0);
    if (first.kind !== 'placed' || second.kind !== 'placed' || third.kind !== 'placed') {
      throw new Error('not placed');
    }
    // The second fails while the third holds the cell: the cell stays 8 (the third is newer).
    expect(await store.undo(second.undo)).toEqual({ kind: 'superseded' });
    expect(await pixelOf(store)).toBe(8);
    // Its cooldown is lifted.
    expect((await store.place(5, 1, 'u2', 60_000)).kind).toBe('placed');
    // The third fails too: the cell goes back past the failed second to the first's colour.
    const undone = await store.undo(third.undo);
    expect(undone).toEqual({ kind: 'restored', seq: expect.any(Number), color: 4 });
    expect(await pixelOf(store)).toBe(4);
    expect((await store.snapshot())!.seq).toBe((undone as { seq: number }).seq);
    // A placement after the undo, failing, goes back to the first's colour again.
    const fourth = await store.place(3, 9, 'u4', 0);
    if (fourth.kind !== 'placed') {
      throw new Error('not placed');
    }
    expect(await store.undo(fourth.undo)).toMatchObject({ kind: 'restored', color: 4 });
    expect(await pixelOf(store)).toBe(4);
    await store.close();
  });
});
