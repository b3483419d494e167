import Redis from 'ioredis';
import { ChatClient } from './chat-client';
import { CHAT_ENTRY, chatEnv, fromOwnAddress, startChatTables } from './local-chat';
import { startServer, ServerProcess } from '../../../test/support/node-server';
import { RedisProcess, startRedis } from '../../../test/support/redis-server';
import { LocalDynamoDb } from '../../shared/local-dynamodb';
import type { ChatMessage, JoinResult } from '../server/protocol';

// Deploys, joins and bus outages with two chat servers on their defaults, one redis-server and dynalite.
const AUTH = 'chat-churn-token';
let dynamo: LocalDynamoDb;
let redis: RedisProcess;
let servers: ServerProcess[];
let a: number;
let b: number;
const open: ChatClient[] = [];

function env(extra: Record<string, string> = {}): Record<string, string> {
  return chatEnv(dynamo, { REALTIME_BUS_URL: redis.url, REALTIME_BUS_AUTH: AUTH, ...extra });
}

beforeAll(async () => {
  dynamo = await startChatTables();
  redis = await startRedis({ password: AUTH });
  servers = await Promise.all([0, 1].map(() => startServer(CHAT_ENTRY, env())));
  [a, b] = servers.map(s => s.port);
}, 60_000);

afterEach(async () => {
  await Promise.all(open.splice(0).map(c => c.close()));
});

afterAll(async () => {
  await Promise.all((servers ?? []).map(s => s.stop()));
  await redis?.stop();
  await dynamo?.stop();
});

async function connect(port: number): Promise<ChatClient> {
  const client = await ChatClient.connect(port, fromOwnAddress());
  open.push(client);
  return client;
}

/** Each of `writers` posts `count` messages one after another (within the per-user burst); resolves with the acks. */
async function post(writers: ChatClient[], room: string, count: number, label: string): Promise<ChatMessage[]> {
  const acks = await Promise.all(writers.map(async (w, i) => {
    const mine: ChatMessage[] = [];
    for (let n = 0; n < count; n++) {
      mine.push(await w.say(room, `${label} ${i}.${n}`));
    }
    return mine;
  }));
  return acks.flat();
}

describe('a deploy drains one of two servers', () => {
  test('with 200 members in a room, the drain and the reconnects cost O(N) frames: no leave or join is announced', async () => {
    const draining = await startServer(CHAT_ENTRY, env({ REALTIME_DRAIN_SECONDS: '2' }));
    const frames = { total: 0, joinsAndLeaves: 0 };
    const reconnected: Array<Promise<void>> = [];
    try {
      // 100 members on the draining server, 100 on the staying one; every frame any of them gets is counted.
      const members = await Promise.all(Array.from({ length: 200 }, async (_, i) => {
        const c = await ChatClient.connect(i % 2 ? b : draining.port, { ...fromOwnAddress(), record: false });
        await c.anonymous();
        await c.join('general');
        return c;
      }));
      const watch = (c: ChatClient) => {
        c.ws.on('message', (data: Buffer) => {
          frames.total++;
          if (data.includes('"type":"user_left"') || data.includes('"type":"user_joined"')) {
            frames.joinsAndLeaves++;
          }
        });
      };
      // Settle the joins' own announcements first.
      await new Promise(r => setTimeout(r, 1000));
      members.forEach(watch);
      for (const [i, c] of members.entries()) {
        if (i % 2 === 0) {
          // As the page does: on 1012, reconnect (to the other server), resume the session, join again.
          reconnected.push(c.closed.then(async ({ code }) => {
            expect(code).toBe(1012);
            const again = await ChatClient.connect(b, { ...fromOwnAddress(), record: false });
            watch(again);
            await again.resume(c.token!);
            await again.join('general');
            members[i] = again;
          }));
        }
      }
      draining.proc.kill('SIGTERM');
      await Promise.all(reconnected);
      expect(await draining.exited).toBe(0);
      // Past the grace period: any leave would have been announced by now.
      await new Promise(r => setTimeout(r, 1000));
      const count = (await members[1].rooms()).rooms.find(r => r.name === 'general')!.numUsers;
      expect(count).toBe(200);
      // eslint-disable-next-line no-console
      console.log(`drain of 100 of 200 members: ${frames.total} frames to the members, ${frames.joinsAndLeaves} of them joins or leaves`);
      expect(frames.joinsAndLeaves).toBe(0);
      // Each reconnect's resume and join acks, and little else: O(N), not the N² of a leave and a join per user to everyone.
      expect(frames.total).toBeGreaterThanOrEqual(200);
      expect(frames.total).toBeLessThanOrEqual(4 * 200);
      await Promise.all(members.map(c => c.close()));
    } finally {
      await draining.stop();
    }
  }, 90_000);
});

describe('joining a room', () => {
  test('a message posted between the join and the first history page arrives exactly once', async () => {
    const writers = await Promise.all([a, b, a, b].map(async port => {
      const w = await connect(port);
      await w.anonymous();
      await w.join('help');
      return w;
    }));
    for (let round = 0; round < 3; round++) {
      const reader = await connect(round % 2 ? a : b);
      await reader.anonymous();
      // Writers post while the reader joins (at most 8 each: within the per-user burst of 20 over the rounds).
      const posting = post(writers, 'help', 6, `round ${round}`);
      const joined: JoinResult = await reader.join('help');
      const sent = await posting;
      // Let the last events arrive: a marker from the last writer, then the reader's own round trip.
      const marker = await writers[round].say('help', `marker ${round}`);
      await reader.waitFor(e => e.type === 'new_message' && e.message === marker.message);
      const events = reader.events.filter((e): e is Extract<typeof e, { type: 'new_message' }> => e.type === 'new_message').map(e => e.message);
      const seen = [...joined.messages.map(m => m.message), ...events];
      // Nothing twice.
      expect(seen.length).toBe(new Set(seen).size);
      // Every message of the round that is not older than the page's oldest is there, once.
      const oldest = joined.messages[joined.messages.length - 1].message;
      const missing = sent.filter(m => m.message >= oldest && !seen.includes(m.message));
      expect(missing).toEqual([]);
      // Older ones come with the next page, not as events.
      expect(events.every(id => !joined.next || id > oldest)).toBe(true);
      await reader.close();
    }
  }, 30_000);
});

describe('a bus outage', () => {
  test('messages published while the servers were not subscribed reach the members once the bus is back, once each', async () => {
    const readers = await Promise.all([a, b].map(async port => {
      const r = await connect(port);
      await r.anonymous();
      await r.join('aws');
      return r;
    }));
    const writers = await Promise.all([a, b].map(async port => {
      const w = await connect(port);
      await w.anonymous();
      await w.join('aws');
      return w;
    }));
    const admin = new Redis({ port: redis.port, password: AUTH, lazyConnect: true });
    await admin.connect();
    try {
      const sent: ChatMessage[] = [];
      const posting = (async () => {
        for (let n = 0; n < 15; n++) {
          for (const [i, w] of writers.entries()) {
            sent.push(await w.say('aws', `outage ${i}.${n}`));
          }
          await new Promise(r => setTimeout(r, 40));
        }
      })();
      // Cut every subscriber connection mid-stream; ioredis reconnects and resubscribes by itself.
      await new Promise(r => setTimeout(r, 150));
      expect(await admin.client('KILL', 'TYPE', 'pubsub')).toBeGreaterThanOrEqual(2);
      await posting;
      for (const reader of readers) {
        for (const m of sent) {
          await reader.waitFor(e => e.type === 'new_message' && e.message === m.message, 10_000);
        }
        const got = reader.events.filter((e): e is Extract<typeof e, { type: 'new_message' }> => e.type === 'new_message').map(e => e.message);
        expect(got.length).toBe(new Set(got).size);
      }
    } finally {
      admin.disconnect();
    }
  }, 30_000);
});
