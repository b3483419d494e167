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

interface Follower {
  readonly watcher: Watcher;
  /** The board as the page shows it: the fetched board with every update received since, by per-pixel sequence. */
  board(): Buffer;
  /** What the page does for a gap in the live sequence: ask /api/updates for everything after the gap. */
  fillGaps(): Promise<void>;
}

/** What the page does: open /ws, fetch the board, ask for the updates after its sequence, apply both by per-pixel sequence. */
async function follow(client: CanvasClient): Promise<Follower> {
  const watcher = await client.watch();
  const { seq, bytes } = await client.board();
  const missed: Update[] = [];
  const updatesAfter = async (after: number) => {
    const res = await fetch(`${client.base}/api/updates?after=${after}`);
    expect(res.status).toBe(200);
    missed.push(...decodeFrame(Buffer.from(await res.arrayBuffer())));
  };
  await updatesAfter(seq);
  const received = () => [...missed, ...watcher.updates];
  return {
    watcher,
    board: () => {
      const board = Buffer.from(bytes);
      const cellSeq = new Map<number, number>();
      for (const u of received()) {
        const cell = u.y * SIZE + u.x;
        if (u.seq > seq && u.seq > (cellSeq.get(cell) ?? 0)) {
          cellSeq.set(cell, u.seq);
          setPixel(board, cell, u.color);
        }
      }
      return board;
    },
    fillGaps: async () => {
      const seen = new Set(received().map(u => u.seq));
      const last = Math.max(seq, ...seen);
      const gap = Array.from({ length: last - seq }, (_, i) => seq + 1 + i).find(s => !seen.has(s));
      if (gap !== undefined) {
        await updatesAfter(gap - 1);
      }
    },
  };
}

/** Cells where a follower's board differs from `stored`, after what the page does for gaps. */
async function differences(follower: Follower, stored: Buffer): Promise<number[]> {
  await follower.fillGaps();
  const board = follower.board();
  return Array.from({ length: SIZE * SIZE }, (_, i) => i).filter(i => getPixel(board, i) !== getPixel(stored, i));
}

/** Waits until every follower shows `stored`, as long as a page would wait; returns the cells still differing. */
async function converged(followers: Follower[], stored: Buffer, withinMs = 5000): Promise<number[][]> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const differing = await Promise.all(followers.map(f => differences(f, stored)));
    if (differing.every(d => d.length === 0) || Date.now() > deadline) {
      return differing;
    }
    await new Promise(r => setTimeout(r, 200));
  }
}

/** Placements from both servers, one client address each, every `intervalMs` until `running()` turns false. */
async function placeWhile(clients: CanvasClient[], running: () => boolean, intervalMs = 10): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; running(); i++) {
    // One address per placement: the per-address limits are not what these tests are about.
    const headers = { 'x-forwarded-for': `198.18.${i >> 8}.${i & 255}` };
    const client = clients[i % 2];
    const token = await client.session(headers);
    const pixel = { x: Math.floor(Math.random() * SIZE), y: Math.floor(Math.random() * SIZE), color: i % 16 };
    const res = await client.place(token, pixel, { headers });
    statuses.push(res.status);
    await new Promise(r => setTimeout(r, intervalMs));
  }
  return statuses;
}

/** The board rebuilt from the placements table: what the durable store holds. */
async function storedBoard(table: string): Promise<Buffer> {
  const log = new PlacementLog({ tableName: table, endpoint: local.dynamo.endpoint });
  try {
    return (await log.rebuild({ width: SIZE, height: SIZE })).bytes;
  } finally {
    log.close();
  }
}

/** Drops every subscriber connection of the Redis (both servers' bus subscriptions); ioredis reconnects and resubscribes. */
async function killSubscribers(): Promise<number> {
  const admin = new Redis(local.redis.port, '127.0.0.1', { password: AUTH });
  try {
    return Number(await admin.client('KILL', 'TYPE', 'pubsub'));
  } finally {
    admin.disconnect();
  }
}

test('watchers joining at random moments of a steady stream over two servers, with a bus reconnect in the middle, all end with the stored board (default board cache)', async () => {
  const env = await local.serverEnv('converge-placements', { CANVAS_WIDTH: String(SIZE), CANVAS_HEIGHT: String(SIZE) });
  const servers: ServerProcess[] = await Promise.all([0, 1].map(() => startServer(CANVAS_ENTRY, env)));
  const clients = servers.map(s => new CanvasClient(s.port));
  try {
    let streaming = true;
    const stream = placeWhile(clients, () => streaming);
    const reconnect = new Promise(r => setTimeout(r, 1500)).then(killSubscribers);
    const followers = await Promise.all(Array.from({ length: 10 }, async (_, i) => {
      await new Promise(r => setTimeout(r, 200 + Math.random() * 3000));
      return follow(clients[i % 2]);
    }));
    // Stop right after the last watcher joined: its cached board (up to a second old) misses placements
    // published before its /ws opened, and no later placement paints over them.
    streaming = false;
    const statuses = await stream;

    expect(await reconnect).toBe(2);
    expect(statuses.length).toBeGreaterThan(50);
    expect(statuses.every(s => s === 200)).toBe(true);
    expect(await converged(followers, await storedBoard('converge-placements'))).toEqual(followers.map(() => []));
    followers.forEach(f => f.watcher.ws.close());
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

test('placements published while the subscribers reconnect, with none after them, still reach every watcher', async () => {
  // A board of its own: the stored board to compare with is this test's table.
  const admin = new Redis(local.redis.port, '127.0.0.1', { password: AUTH });
  await admin.flushall();
  admin.disconnect();
  const env = await local.serverEnv('converge-lost-publish', { CANVAS_WIDTH: String(SIZE), CANVAS_HEIGHT: String(SIZE) });
  const servers: ServerProcess[] = await Promise.all([0, 1].map(() => startServer(CANVAS_ENTRY, env)));
  const clients = servers.map(s => new CanvasClient(s.port));
  try {
    const followers = await Promise.all([0, 1, 0, 1].map(i => follow(clients[i])));
    // The last second of placements goes out while the subscribers keep being dropped: some publishes
    // reach nobody, and no later placement shows a page the gap.
    let streaming = true;
    const stream = placeWhile(clients, () => streaming, 20);
    await new Promise(r => setTimeout(r, 1000));
    let killing = true;
    let kills = 0;
    const dropping = (async () => {
      while (killing) {
        kills += await killSubscribers();
        await new Promise(r => setTimeout(r, 5));
      }
    })();
    await new Promise(r => setTimeout(r, 1000));
    // The stream ends while subscribers are still being dropped (a reconnect takes longer than 5 ms).
    streaming = false;
    const statuses = await stream;
    await new Promise(r => setTimeout(r, 100));
    killing = false;
    await dropping;

    expect(kills).toBeGreaterThan(2);
    expect(statuses.every(s => s === 200)).toBe(true);
    expect(await converged(followers, await storedBoard('converge-lost-publish'))).toEqual(followers.map(() => []));
    followers.forEach(f => f.watcher.ws.close());
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
