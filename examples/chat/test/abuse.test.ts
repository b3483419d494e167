import { ChatClient, ChatRequestError } from './chat-client';
import { CHAT_ENTRY, chatEnv, fromOwnAddress, startChatTables } from './local-chat';
import { startServer, ServerProcess } from '../../../test/support/node-server';
import { RedisProcess, startRedis } from '../../../test/support/redis-server';
import { LocalDynamoDb } from '../../shared/local-dynamodb';
import { SessionSigner } from '../server/sessions';

// Two chat servers on their defaults, one redis-server and dynalite; one hostile client at a time.
const AUTH = 'chat-abuse-token';
let dynamo: LocalDynamoDb;
let redis: RedisProcess;
let a: number;
let b: number;
let servers: ServerProcess[];
const open: ChatClient[] = [];

beforeAll(async () => {
  dynamo = await startChatTables();
  redis = await startRedis({ password: AUTH });
  servers = await Promise.all([0, 1].map(() => startServer(CHAT_ENTRY, chatEnv(dynamo, { REALTIME_BUS_URL: redis.url, REALTIME_BUS_AUTH: AUTH }))));
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

async function connect(port: number, headers = fromOwnAddress().headers): Promise<ChatClient> {
  const client = await ChatClient.connect(port, { headers });
  open.push(client);
  return client;
}

function failure(promise: Promise<unknown>): Promise<ChatRequestError> {
  return promise.then(() => { throw new Error('expected an error frame'); }, err => err as ChatRequestError);
}

describe('log-in floods', () => {
  test('one address gets 30 log-in attempts a minute across both servers, however often it reconnects; IPv6 counts by /64', async () => {
    const attacker = { 'x-forwarded-for': '203.0.113.7' };
    // Fresh connections alternating servers, random unknown names: the per-name and per-connection
    // throttles never see a second attempt. Anonymous log-ins count too (they cost no hash).
    for (let i = 0; i < 30; i++) {
      const c = await connect(i % 2 ? a : b, attacker);
      if (i < 10) {
        await expect(c.login(`sprayed_${i}`, 'spray-password')).rejects.toMatchObject({ code: 'bad_credentials' });
      } else {
        await c.anonymous();
      }
      await c.close();
    }
    for (const port of [a, b]) {
      const started = Date.now();
      const err = await failure((await connect(port, attacker)).login('sprayed_x', 'spray-password'));
      expect(err.code).toBe('rate_limited');
      expect(err.frame.retryAfterMs).toBeGreaterThan(30_000);
      expect(err.frame.retryAfterMs).toBeLessThanOrEqual(60_000);
      // Refused before any hash (a hash takes tens of milliseconds).
      expect(Date.now() - started).toBeLessThan(1000);
      await expect((await connect(port, attacker)).anonymous()).rejects.toMatchObject({ code: 'rate_limited' });
    }
    // Another address is not affected.
    expect((await (await connect(a)).anonymous()).anonymous).toBe(true);

    // IPv6: every address of one /64 shares a count, the next /64 has its own.
    for (let i = 0; i < 30; i++) {
      await (await connect(i % 2 ? a : b, { 'x-forwarded-for': `2001:db8:1:2::${(i + 1).toString(16)}` })).anonymous();
    }
    await expect((await connect(a, { 'x-forwarded-for': '2001:db8:1:2:ffff:1:2:3' })).anonymous()).rejects.toMatchObject({ code: 'rate_limited' });
    expect((await (await connect(a, { 'x-forwarded-for': '2001:db8:1:3::1' })).anonymous()).anonymous).toBe(true);
  }, 60_000);

  test('one address holds at most 100 connections over both servers (counted in Redis); the 101st upgrade, on either, is answered 429', async () => {
    const crowd = { 'x-forwarded-for': '198.51.100.20' };
    const held = await Promise.all(Array.from({ length: 100 }, (_, i) => ChatClient.connect(i % 2 ? a : b, { headers: crowd, record: false })));
    await expect(ChatClient.connect(a, { headers: crowd })).rejects.toThrow('HTTP 429 on upgrade');
    await expect(ChatClient.connect(b, { headers: crowd })).rejects.toThrow('HTTP 429 on upgrade');
    // Other addresses are not affected.
    open.push(await connect(a), await connect(b, { 'x-forwarded-for': '198.51.100.21' }));
    // A connection closed on one server frees a place on the other.
    await held[1].close();
    let again: ChatClient | undefined;
    for (let i = 0; i < 50 && !again; i++) {
      again = await ChatClient.connect(b, { headers: crowd }).catch(() => undefined);
      if (!again) {
        await new Promise(r => setTimeout(r, 20));
      }
    }
    expect(again).toBeDefined();
    open.push(again!);
    await expect(ChatClient.connect(a, { headers: crowd })).rejects.toThrow('HTTP 429 on upgrade');
    await Promise.all(held.filter((_, i) => i !== 1).map(c => c.close()));
  });

  test('at most 4 password hashes run at once per server; the rest are refused at once with busy', async () => {
    const clients = await Promise.all(Array.from({ length: 16 }, () => connect(a)));
    const started = Date.now();
    // Distinct names, so the per-name throttle stays out of it.
    const outcomes = await Promise.all(clients.map(async (c, i) => {
      const err = await failure(c.login(`nobody_${i}`, 'guess-password'));
      return { code: err.code, ms: Date.now() - started, retryAfterMs: err.frame.retryAfterMs };
    }));
    const busy = outcomes.filter(o => o.code === 'busy');
    const hashed = outcomes.filter(o => o.code === 'bad_credentials');
    expect(busy.length + hashed.length).toBe(16);
    expect(busy.length).toBeGreaterThanOrEqual(4);
    expect(hashed.length).toBeGreaterThanOrEqual(4);
    // Refused without waiting for a hash: every busy came before the first hash finished.
    expect(Math.max(...busy.map(o => o.ms))).toBeLessThan(Math.min(...hashed.map(o => o.ms)));
    expect(busy.every(o => o.retryAfterMs === 150)).toBe(true);
    // After the burst the server hashes again.
    await expect((await connect(a)).login('nobody_later', 'guess-password')).rejects.toMatchObject({ code: 'bad_credentials' });
  });
});

describe('sessions', () => {
  test('a resume keeps the token and its expiry; a log-out ends the session on every server at once', async () => {
    const first = await connect(a);
    const session = await first.register('leaky', 'leaky-password');
    const resumed = await connect(b);
    expect(await resumed.resume(session.token)).toEqual(session);
    await resumed.join('general');

    await expect(first.logOut()).resolves.toEqual({ everywhere: false });
    // The live connection on the other server hears it and is logged out.
    expect(await resumed.waitFor(e => e.type === 'logged_out')).toEqual({ type: 'logged_out', reason: 'log_out' });
    await expect(resumed.say('general', 'still here?')).rejects.toMatchObject({ code: 'not_logged_in' });
    // The token is refused on both servers.
    for (const port of [a, b]) {
      await expect((await connect(port)).resume(session.token)).rejects.toMatchObject({ code: 'bad_token' });
    }
    // The log-out connection may log in again.
    expect((await first.login('leaky', 'leaky-password')).username).toBe('leaky');
  });

  test('log out everywhere ends every session of the user, on both servers', async () => {
    const sessions = [await (await connect(a)).register('many_tabs', 'tabs-password'), await (await connect(b)).login('many_tabs', 'tabs-password')];
    const other = await (await connect(b)).register('bystander', 'bystander-password');
    const live = await Promise.all(sessions.map(async (s, i) => {
      const c = await connect(i ? b : a);
      await c.resume(s.token);
      return c;
    }));
    const requester = await connect(b);
    await requester.resume(sessions[0].token);
    await expect(requester.logOut(true)).resolves.toEqual({ everywhere: true });
    for (const c of live) {
      expect(await c.waitFor(e => e.type === 'logged_out')).toEqual({ type: 'logged_out', reason: 'log_out_everywhere' });
    }
    for (const s of sessions) {
      for (const port of [a, b]) {
        await expect((await connect(port)).resume(s.token)).rejects.toMatchObject({ code: 'bad_token' });
      }
    }
    // Only that user's sessions.
    expect((await (await connect(a)).resume(other.token)).username).toBe('bystander');
  });

  test('a token ends a fixed time after its log-in, however it is resumed', () => {
    const signer = new SessionSigner('a-shared-secret-for-every-server');
    const loginAt = Date.parse('2026-01-01T00:00:00Z');
    const { token, claims } = signer.issue('someone', loginAt);
    expect(claims.expiresAt).toBe(loginAt + 12 * 3600_000);
    expect(signer.verify(token, loginAt + 12 * 3600_000 - 1000)).toEqual(claims);
    expect(signer.verify(token, loginAt + 12 * 3600_000)).toBeUndefined();
  });
});

describe('per-user limits', () => {
  test('a user sends at most 5 messages a second (bursts of 20) across connections and servers, told when to retry', async () => {
    const one = await connect(a);
    const session = await one.register('chatty', 'chatty-password');
    const two = await connect(b);
    await two.resume(session.token);
    await Promise.all([one.join('random'), two.join('random')]);
    const started = Date.now();
    const outcomes = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? one : two).say('random', `burst ${i}`).then(() => 'ok', e => e as ChatRequestError)));
    const seconds = (Date.now() - started) / 1000;
    const refused = outcomes.filter((o): o is ChatRequestError => o !== 'ok');
    // 20 saved up, plus what refilled while the 30 were handled (5 a second).
    expect(outcomes.length - refused.length).toBeGreaterThanOrEqual(20);
    expect(outcomes.length - refused.length).toBeLessThanOrEqual(20 + Math.ceil(5 * seconds));
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0].code).toBe('rate_limited');
    expect(refused[0].message).toMatch(/^rate_limited: at most 5 messages a second per user \(bursts of 20\); try again in \d+ ms$/);
    const wait = refused[0].frame.retryAfterMs as number;
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(200);
    // Another user is not affected; this one may send again after the wait.
    const bystander = await connect(b);
    await bystander.anonymous();
    await bystander.join('random');
    expect((await bystander.say('random', 'unaffected')).text).toBe('unaffected');
    await new Promise(r => setTimeout(r, 250));
    expect((await one.say('random', 'after the wait')).text).toBe('after the wait');
  });

  test('anonymous names have 10 random characters and never repeat', async () => {
    const names = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const batch = await Promise.all(Array.from({ length: 20 }, async (_, j) => (await connect(j % 2 ? a : b)).anonymous()));
      batch.forEach(s => names.add(s.username));
      await Promise.all(open.splice(0).map(c => c.close()));
    }
    expect(names.size).toBe(200);
    expect([...names].every(n => /^anonymous_[a-z0-9]{10}$/.test(n))).toBe(true);
  });
});
