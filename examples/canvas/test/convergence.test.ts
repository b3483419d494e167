import Redis from 'ioredis';
import { CanvasClient, Watcher } from './canvas-client';
import { CANVAS_ENTRY, LocalCanvas, startLocalCanvas } from './local-canvas';
import { startServer, ServerProcess } from '../../../test/support/node-server';
import { getPixel, MemoryBoardStore, RedisBoardStore, setPixel } from '../server/board';
import { PlacementLog } from '../server/placements';
import { decodeFrame, encodeRecord, Update } from '../server/protocol';

const AUTH = 'canvas-convergence-token';
const SIZE = 16;

let local: LocalCanvas;
beforeAll(async () => {
  local = await startLocalCanvas(AUTH);
});
afterAll(() => local.stop());

/** What the page does: open /ws, fetch the board, ask for the updates after its sequence, apply both by per-pixel sequence. */
async function follow(client: CanvasClient): Promise<{ watcher: Watcher; board: () => Buffer }> {
  const watcher = await client.watch();
  const { seq, bytes } = await client.board();
  const res = await fetch(`${client.base}/api/updates?after=${seq}`);
  expect(res.status).toBe(200);
  const missed = decodeFrame(Buffer.from(await res.arrayBuffer()));
  return {
    watcher,
    board: () => {
      const board = Buffer.from(bytes);
      const cellSeq = new Map<number, number>();
      for (const u of [...missed, ...watcher.updates] as Update[]) {
        const cell = u.y * SIZE + u.x;
        if (u.seq > seq && u.seq > (cellSeq.get(cell) ?? 0)) {
          cellSeq.set(cell, u.seq);
          setPixel(board, cell, u.color);
        }
      }
      return board;
    },
  };
}

test('watchers joining at random moments of a steady stream over two servers all end with the stored board (default board cache)', async () => {
  const env = await local.serverEnv('converge-placements', { CANVAS_WIDTH: String(SIZE), CANVAS_HEIGHT: String(SIZE) });
  const servers: ServerProcess[] = await Promise.all([0, 1].map(() => startServer(CANVAS_ENTRY, env)));
  const clients = servers.map(s => new CanvasClient(s.port));
  try {
    const statuses: number[] = [];
    let streaming = true;
    const stream = (async () => {
      for (let i = 0; streaming; i++) {
        // One address per placement: the per-address limits are not what this test is about.
        const headers = { 'x-forwarded-for': `198.18.${i >> 8}.${i & 255}` };
        const client = clients[i % 2];
        const token = await client.session(headers);
        const pixel = { x: Math.floor(Math.random() * SIZE), y: Math.floor(Math.random() * SIZE), color: i % 16 };
        const res = await client.place(token, pixel, { headers });
        statuses.push(res.status);
        await new Promise(r => setTimeout(r, 10));
      }
    })();
    const followers = await Promise.all(Array.from({ length: 10 }, async (_, i) => {
      await new Promise(r => setTimeout(r, 200 + Math.random() * 3000));
      return follow(clients[i % 2]);
    }));
    // Stop right after the last watcher joined: its cached board (up to a second old) misses placements
    // published before its /ws opened, and no later placement paints over them.
    streaming = false;
    await stream;
    await new Promise(r => setTimeout(r, 500));

    expect(statuses.length).toBeGreaterThan(50);
    expect(statuses.every(s => s === 200)).toBe(true);
    const log = new PlacementLog({ tableName: 'converge-placements', endpoint: local.dynamo.endpoint });
    const stored = await log.rebuild({ width: SIZE, height: SIZE });
    log.close();
    for (const f of followers) {
      const board = f.board();
      const differing = Array.from({ length: SIZE * SIZE }, (_, i) => i).filter(i => getPixel(board, i) !== getPixel(stored.bytes, i));
      expect(differing).toEqual([]);
      f.watcher.ws.close();
    }
    // A bad or missing `after` is a 400.
    for (const query of ['', '?after=', '?after=-1', '?after=x']) {
      const res = await fetch(`${clients[0].base}/api/updates${query}`);
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ error: 'bad_after', message: expect.stringMatching(/whole number from 0/) });
    }
  } finally {
    await Promise.all(servers.map(s => s.stop()));
  }
}, 60_000);

describe.each([
  ['Redis', () => new RedisBoardStore(new Redis(local.redis.port, '127.0.0.1', { password: AUTH, db: 2 }), { width: SIZE, height: SIZE })],
  ['memory', () => new MemoryBoardStore({ width: SIZE, height: SIZE })],
])('kept updates in the %s store', (_name, open) => {
  test('come back in sequence order after a sequence, and as undefined (410) once older ones were dropped', async () => {
    const store = open();
    await store.restore({ seq: 0, bytes: Buffer.alloc((SIZE * SIZE) / 2) });
    const record = (seq: number) => encodeRecord({ seq, x: seq % SIZE, y: 0, color: seq % 16 });
    await store.recordUpdates([record(2), record(1)], 3, 60_000);
    await store.recordUpdates([record(4), record(3), record(5)], 3, 60_000);
    expect((await store.updatesAfter(2))!.map(r => r.readUInt32LE(0))).toEqual([3, 4, 5]);
    expect((await store.updatesAfter(4))!.map(r => r.readUInt32LE(0))).toEqual([5]);
    expect(await store.updatesAfter(1)).toBeUndefined();
    // A restored board starts the kept updates over at its sequence.
    await store.restore({ seq: 9, bytes: Buffer.alloc((SIZE * SIZE) / 2) });
    expect(await store.updatesAfter(5)).toBeUndefined();
    expect(await store.updatesAfter(9)).toEqual([]);
    await store.close();
  });

  test('are dropped by age too', async () => {
    const store = open();
    await store.restore({ seq: 0, bytes: Buffer.alloc((SIZE * SIZE) / 2) });
    const record = (seq: number) => encodeRecord({ seq, x: seq % SIZE, y: 0, color: seq % 16 });
    await store.recordUpdates([record(1), record(2)], 100, 100);
    expect((await store.updatesAfter(0))!.length).toBe(2);
    await new Promise(r => setTimeout(r, 150));
    await store.recordUpdates([record(3)], 100, 100);
    expect(await store.updatesAfter(0)).toBeUndefined();
    expect((await store.updatesAfter(2))!.map(r => r.readUInt32LE(0))).toEqual([3]);
    await store.close();
  });
});
