import { ChildProcess, spawn } from 'child_process';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { ChatClient, ChatRequestError } from './chat-client';
import { CHAT_ENTRY as ENTRY, chatEnv, startChatTables } from './local-chat';
import { startServer, ServerProcess } from '../../../test/support/node-server';
import { freePort, RedisClusterProcess, RedisProcess, startRedis, startRedisCluster, stopProcess, waitForPort } from '../../../test/support/redis-server';
import { LocalDynamoDb } from '../../shared/local-dynamodb';

const AUTH = 'chat-test-token';
const PRESENCE_TTL_SECONDS = 3;
/** The default grace period before a leave is announced. */
const GRACE_SECONDS = 5;
const ROOMS = 'general,random,help,aws,lobby,quiet';

let dynamo: LocalDynamoDb;
let redis: RedisProcess;
let servers: ServerProcess[];
let a: number;
let b: number;
const open: ChatClient[] = [];

function serverEnv(extra: Record<string, string> = {}): Record<string, string> {
  return chatEnv(dynamo, {
    REALTIME_BUS_URL: redis.url,
    REALTIME_BUS_AUTH: AUTH,
    CHAT_ROOMS: ROOMS,
    CHAT_PRESENCE_TTL_SECONDS: String(PRESENCE_TTL_SECONDS),
    ...extra,
  });
}

let addresses = 0;

/** A connection from an address of its own, as the load balancer (one trusted proxy) reports it. */
async function connect(port: number): Promise<ChatClient> {
  const n = ++addresses;
  const client = await ChatClient.connect(port, { headers: { 'x-forwarded-for': `10.1.${n >> 8}.${n & 255}` } });
  open.push(client);
  return client;
}

/** A connection logged in anonymously and in `room` (unless null). */
async function member(port: number, room: string | null): Promise<ChatClient> {
  const client = await connect(port);
  await client.anonymous();
  if (room) {
    await client.join(room);
  }
  return client;
}

async function scan(table: string): Promise<Array<Record<string, unknown>>> {
  const client = new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'l', secretAccessKey: 'l' } });
  const out = await DynamoDBDocumentClient.from(client).send(new ScanCommand({ TableName: table }));
  client.destroy();
  return (out.Items ?? []) as Array<Record<string, unknown>>;
}

function code(err: unknown): string {
  return err instanceof ChatRequestError ? err.code : String(err);
}

beforeAll(async () => {
  dynamo = await startChatTables();
  redis = await startRedis({ password: AUTH });
  servers = await Promise.all([0, 1].map(() => startServer(ENTRY, serverEnv())));
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

describe('two chat servers on one redis-server and a DynamoDB-API store', () => {
  test('a message sent through one server reaches the room\'s members on both servers, and no one else', async () => {
    const alice = await connect(a);
    await alice.register('alice', 'correct horse battery');
    await alice.join('general');
    const bob = await member(b, 'general');
    const carol = await member(a, 'general');
    const outsiders = { dave: await member(a, 'random'), erin: await member(b, 'random'), frank: await member(b, null), gina: await member(a, null) };

    const sent = await alice.say('general', '  hello, general  ');
    expect(sent).toEqual({ room: 'general', message: expect.stringMatching(/^\d{13}-[0-9a-f]{16}$/), username: 'alice', text: 'hello, general', time: expect.any(Number) });
    for (const receiver of [alice, bob, carol]) {
      expect(await receiver.waitFor(e => e.type === 'new_message' && e.message === sent.message)).toEqual({ type: 'new_message', ...sent });
    }

    // A later marker in another room, published by the same server, reaches each server after the message
    // did; a round trip on each outsider's own socket then proves anything for it would have arrived.
    const marker = await outsiders.dave.say('random', 'marker');
    await Promise.all([outsiders.dave, outsiders.erin].map(c => c.waitFor(e => e.type === 'new_message' && e.message === marker.message)));
    for (const [name, outsider] of Object.entries(outsiders)) {
      await outsider.rooms();
      const leaked = outsider.events.filter(e => e.type === 'new_message' && e.room === 'general');
      expect([name, leaked]).toEqual([name, []]);
    }
    // Members saw the message once each, even the sender (its ack and the event carry the same id).
    expect(bob.events.filter(e => e.type === 'new_message')).toHaveLength(1);
  });

  test('typing and stop typing reach the other members of the room only, coalesced to one a second', async () => {
    const typer = await member(b, 'quiet');
    const [near, far] = [await member(a, 'quiet'), await member(b, 'quiet')];
    const outsiders = [await member(a, 'random'), await member(b, 'random'), await member(a, null)];
    typer.typing('quiet');
    typer.typing('quiet');
    typer.typing('quiet');
    for (const c of [near, far]) {
      expect(await c.waitFor(e => e.type === 'typing')).toEqual({ type: 'typing', room: 'quiet', username: typer.username });
    }
    typer.stopTyping('quiet');
    for (const c of [near, far]) {
      expect(await c.waitFor(e => e.type === 'stop_typing')).toEqual({ type: 'stop_typing', room: 'quiet', username: typer.username });
    }
    const marker = await outsiders[0].say('random', 'typing marker');
    await Promise.all([outsiders[0], outsiders[1]].map(c => c.waitFor(e => e.type === 'new_message' && e.message === marker.message)));
    await Promise.all([...outsiders, typer, near, far].map(c => c.rooms()));
    for (const c of [...outsiders, typer]) {
      expect(c.events.filter(e => e.type === 'typing' || e.type === 'stop_typing')).toEqual([]);
    }
    // Three typing frames within a second became one event.
    expect(near.events.filter(e => e.type === 'typing')).toHaveLength(1);
  });

  test('history comes in pages of 20, newest first, with a cursor; the last page has none', async () => {
    // Three writers, each within the per-user burst.
    const writers = [await member(a, 'help'), await member(b, 'help'), await member(a, 'help')];
    const sent: string[] = [];
    for (let i = 0; i < 45; i++) {
      sent.push((await writers[i % 3].say('help', `history ${i}`)).message);
    }
    const reader = await member(b, null);
    const first = await reader.history('help');
    expect(first.messages.map(m => m.text)).toEqual(Array.from({ length: 20 }, (_, i) => `history ${44 - i}`));
    expect(first.next).toMatch(/^[A-Za-z0-9_-]+$/);
    const second = await reader.history('help', first.next);
    expect(second.messages.map(m => m.text)).toEqual(Array.from({ length: 20 }, (_, i) => `history ${24 - i}`));
    const third = await reader.history('help', second.next);
    expect(third.messages.map(m => m.text)).toEqual(['history 4', 'history 3', 'history 2', 'history 1', 'history 0']);
    expect(third).not.toHaveProperty('next');
    expect([...first.messages, ...second.messages, ...third.messages].map(m => m.message)).toEqual([...sent].reverse());
    expect(third.messages[0]).toEqual({ room: 'help', message: sent[4], username: writers[1].username, text: 'history 4', time: expect.any(Number) });

    // Exactly one full page: no cursor to an empty page.
    const exact = await member(b, 'lobby');
    for (let i = 0; i < 20; i++) {
      await exact.say('lobby', `exact ${i}`);
    }
    const only = await exact.history('lobby');
    expect(only.messages).toHaveLength(20);
    expect(only).not.toHaveProperty('next');

    // The items carry exactly the attributes the StreamIndexer indexes.
    const stored = (await scan('messages')).find(item => item.message === sent[0]);
    expect(stored).toEqual({ room: 'help', message: sent[0], username: writers[0].username, text: 'history 0', time: expect.any(Number) });
  });

  test('accounts: register, log in on the other server, wrong password, duplicate name, session resume', async () => {
    const registering = await connect(a);
    const session = await registering.register('  Zoe_1 ', 'zoe-password-1');
    expect(session).toEqual({ username: 'zoe_1', anonymous: false, token: expect.stringMatching(/^v2\.zoe_1\.[A-Za-z0-9_-]{22}\.\d+\.[A-Za-z0-9_-]{43}$/), expiresAt: expect.any(Number) });

    const login = await connect(b);
    expect((await login.login('ZOE_1', 'zoe-password-1')).username).toBe('zoe_1');
    await expect(login.login('zoe_1', 'zoe-password-1')).rejects.toMatchObject({ code: 'already_logged_in' });

    const wrong = await connect(b);
    await expect(wrong.login('zoe_1', 'zoe-password-2')).rejects.toMatchObject({ code: 'bad_credentials', message: 'bad_credentials: wrong user name or password' });
    await expect(wrong.login('nobody_here', 'zoe-password-1')).rejects.toMatchObject({ code: 'bad_credentials' });

    const duplicate = await connect(b);
    await expect(duplicate.register('zoe_1', 'another-password')).rejects.toMatchObject({ code: 'username_taken' });

    // A token from server A resumes the session on server B, without the password.
    const resumed = await connect(b);
    expect(await resumed.resume(session.token)).toMatchObject({ username: 'zoe_1', anonymous: false });
    await resumed.join('general');
    const tampered = await connect(a);
    const forged = session.token.replace('v2.zoe_1.', 'v2.zoe_2.');
    await expect(tampered.resume(forged)).rejects.toMatchObject({ code: 'bad_token' });

    // The table holds a salted scrypt hash with its parameters, never the password.
    const item = (await scan('users')).find(u => u.username === 'zoe_1')!;
    expect(Object.keys(item).sort()).toEqual(['created', 'passwordHash', 'username']);
    expect(item.passwordHash).toMatch(/^scrypt\$15\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(JSON.stringify(await scan('users'))).not.toContain('zoe-password');
    const other = await connect(a);
    await other.register('zoe_2', 'zoe-password-1');
    const hashes = (await scan('users')).filter(u => String(u.username).startsWith('zoe_')).map(u => u.passwordHash);
    expect(new Set(hashes).size).toBe(2);
  });

  test('log-in attempts are throttled per user name across servers, and per connection', async () => {
    await (await connect(a)).register('victim', 'victim-password');
    // Five wrong guesses, each on a fresh connection, alternating servers.
    for (let i = 0; i < 5; i++) {
      const guesser = await connect(i % 2 ? b : a);
      await expect(guesser.login('victim', `guess-number-${i}`)).rejects.toMatchObject({ code: 'bad_credentials' });
    }
    // The sixth is refused before the password is checked, even the right one, on either server.
    for (const port of [a, b]) {
      const late = await connect(port);
      const err = await late.login('victim', 'victim-password').catch(e => e);
      expect(code(err)).toBe('rate_limited');
      expect(err.frame.retryAfterMs).toBeGreaterThan(50_000);
      expect(err.frame.retryAfterMs).toBeLessThanOrEqual(60_000);
    }

    // One connection guessing five different names is stopped at the sixth, whatever the name.
    const sprayer = await connect(b);
    for (let i = 0; i < 5; i++) {
      await expect(sprayer.login(`nobody_${i}`, 'some-password')).rejects.toMatchObject({ code: 'bad_credentials' });
    }
    await expect(sprayer.login('zoe_1', 'zoe-password-1')).rejects.toMatchObject({ code: 'rate_limited' });
    // The connection itself still works.
    expect((await sprayer.rooms()).rooms).toHaveLength(6);
  });

  test('presence counts distinct users across both servers; a join or leave is announced once per user, after a grace period', async () => {
    const first = await member(a, 'aws');
    expect(await first.join('aws')).toMatchObject({ room: 'aws', numUsers: 1 });
    const second = await member(b, null);
    expect(await second.join('aws')).toMatchObject({ room: 'aws', numUsers: 2 });
    expect(await first.waitFor(e => e.type === 'user_joined')).toEqual({ type: 'user_joined', room: 'aws', username: second.username, numUsers: 2 });
    const listed = await (await member(a, null)).rooms();
    expect(listed.rooms.find(r => r.name === 'aws')).toEqual({ name: 'aws', numUsers: 2 });
    // A second tab of the same user, on the other server, is the same person: no join, the count stays.
    const secondTab = await connect(a);
    await secondTab.resume(second.token!);
    expect(await secondTab.join('aws')).toMatchObject({ numUsers: 2 });
    expect((await first.members('aws')).usernames).toEqual([first.username, second.username].sort());
    // One tab closing while the other stays is no leave either.
    const afterTab = first.mark();
    await second.close();
    await new Promise(r => setTimeout(r, GRACE_SECONDS * 1000 + 1000));
    // The last tab moving to another room is a leave, once, after the grace period.
    const movedAt = Date.now();
    await secondTab.join('random');
    expect(await first.waitFor(e => e.type === 'user_left', (GRACE_SECONDS + 5) * 1000, afterTab)).toEqual({ type: 'user_left', room: 'aws', username: second.username, numUsers: 1 });
    expect(Date.now() - movedAt).toBeGreaterThanOrEqual(GRACE_SECONDS * 1000 - 100);
    expect(first.events.slice(afterTab).filter(e => e.type === 'user_left' || e.type === 'user_joined')).toHaveLength(1);
    // Coming back is a join; leaving and coming back within the grace period is neither a leave nor a join.
    const beforeReturn = first.mark();
    await secondTab.join('aws');
    await first.waitFor(e => e.type === 'user_joined' && e.username === second.username, 5000, beforeReturn);
    const bounce = first.mark();
    await secondTab.join('random');
    await secondTab.join('aws');
    await new Promise(r => setTimeout(r, GRACE_SECONDS * 1000 + 1000));
    await first.rooms();
    expect(first.events.slice(bounce).filter(e => e.type === 'user_left' || e.type === 'user_joined')).toEqual([]);
  }, 40_000);
});

describe('a server process that dies without a word', () => {
  let doomed: { port: number; proc: ChildProcess; exited: Promise<number | null> };

  beforeAll(async () => {
    // Node itself with tsx as a loader (not the tsx CLI, whose child would survive the parent's SIGKILL).
    const port = await freePort();
    const proc = spawn(process.execPath, ['--import', 'tsx', ENTRY], { env: { ...process.env, ...serverEnv(), PORT: String(port) }, stdio: 'ignore' });
    doomed = { port, proc, exited: new Promise(resolve => proc.once('exit', exitCode => resolve(exitCode))) };
    await waitForPort(port, 20_000);
  });
  afterAll(async () => { await stopProcess(doomed.proc); });

  test('after SIGKILL its connections drop out of the counts within the presence window', async () => {
    const watcher = await member(a, 'lobby');
    const base = (await watcher.join('lobby')).numUsers;
    for (let i = 0; i < 3; i++) {
      await member(doomed.port, 'lobby');
    }
    await watcher.waitFor(e => e.type === 'user_joined' && e.numUsers === base + 3);
    const from = watcher.mark();
    const killedAt = Date.now();
    doomed.proc.kill('SIGKILL');
    expect(await doomed.exited).toBe(null);
    const dropped = await watcher.waitFor(e => e.type === 'presence' && e.room === 'lobby' && e.numUsers === base, (PRESENCE_TTL_SECONDS + 3) * 1000, from);
    const elapsed = Date.now() - killedAt;
    expect(dropped).toEqual({ type: 'presence', room: 'lobby', numUsers: base });
    // Within the window plus one refresh period (a third of it) and some scheduling slack.
    expect(elapsed).toBeLessThan((PRESENCE_TTL_SECONDS * 4 / 3) * 1000 + 1500);
    expect((await watcher.rooms()).rooms.find(r => r.name === 'lobby')!.numUsers).toBe(base);
  });
});

describe('a server stopped by ECS', () => {
  test('SIGTERM closes its clients with 1012; those that do not come back are announced left once, after the grace period; it exits 0', async () => {
    const leaving = await startServer(ENTRY, serverEnv({ REALTIME_DRAIN_SECONDS: '1' }));
    try {
      const watcher = await member(a, 'quiet');
      const base = (await watcher.join('quiet')).numUsers;
      const clients = await Promise.all([0, 1, 2].map(() => member(leaving.port, 'quiet')));
      await watcher.waitFor(e => e.type === 'user_joined' && e.numUsers === base + 3);
      const from = watcher.mark();
      const stoppedAt = Date.now();
      leaving.proc.kill('SIGTERM');
      expect(await Promise.all(clients.map(c => c.closed.then(x => x.code)))).toEqual([1012, 1012, 1012]);
      // The leaves were published before it exited (after the grace period), not left to expire.
      await watcher.waitFor(e => e.type === 'user_left' && e.numUsers === base, (GRACE_SECONDS + 5) * 1000, from);
      expect(watcher.events.slice(from).filter(e => e.type === 'user_left')).toHaveLength(3);
      expect(Date.now() - stoppedAt).toBeLessThan((1 + GRACE_SECONDS + 3) * 1000);
      expect(await leaving.exited).toBe(0);
    } finally {
      await leaving.stop();
    }
  }, 30_000);
});

describe('chat servers on a 3-node Redis Cluster (sharded pub/sub, one-key transactions)', () => {
  let cluster: RedisClusterProcess;
  let pair: ServerProcess[];

  beforeAll(async () => {
    cluster = await startRedisCluster({ password: AUTH });
    pair = await Promise.all([0, 1].map(() => startServer(ENTRY, serverEnv({ REALTIME_BUS_URL: cluster.url, REALTIME_BUS_CLUSTER: 'true' }))));
  }, 60_000);
  afterAll(async () => {
    await Promise.all((pair ?? []).map(s => s.stop()));
    await cluster?.stop();
  });

  test('fans out to the room across servers, counts presence and throttles log-ins', async () => {
    const [x, y] = pair.map(s => s.port);
    const sender = await member(x, 'random');
    const receiver = await member(y, 'random');
    expect(await sender.waitFor(e => e.type === 'user_joined')).toMatchObject({ numUsers: 2 });
    const sent = await sender.say('random', 'through the cluster');
    expect(await receiver.waitFor(e => e.type === 'new_message' && e.message === sent.message)).toMatchObject({ text: 'through the cluster' });
    expect((await receiver.rooms()).rooms.find(r => r.name === 'random')!.numUsers).toBe(2);
    for (let i = 0; i < 5; i++) {
      await expect((await connect(i % 2 ? x : y)).login('nobody_on_cluster', 'wrong-password')).rejects.toMatchObject({ code: 'bad_credentials' });
    }
    await expect((await connect(x)).login('nobody_on_cluster', 'wrong-password')).rejects.toMatchObject({ code: 'rate_limited' });
  });
});
