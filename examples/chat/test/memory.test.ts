import { ChildProcess, spawn } from 'child_process';
import { readFileSync } from 'fs';
import { ChatClient } from './chat-client';
import { CHAT_ENTRY, chatEnv, fromOwnAddress, startChatTables } from './local-chat';
import { freePort, RedisProcess, startRedis, stopProcess, waitForPort } from '../../../test/support/redis-server';
import { LocalDynamoDb } from '../../shared/local-dynamodb';

// One chat server on its defaults (4 MiB outbound per socket), as its own Node process so its memory is its own.
const AUTH = 'chat-memory-token';
const HOSTILE_SOCKETS = 4;
const ATTACK_SECONDS = 25;
/** The kit's default outbound limit per socket. */
const OUTBOUND_LIMIT_MIB = 4;
/** What the server's resident memory may grow by during the attack: every hostile socket at its limit, plus 64 MiB for the rest. */
const RSS_BOUND_MIB = HOSTILE_SOCKETS * OUTBOUND_LIMIT_MIB + 48;

let dynamo: LocalDynamoDb;
let redis: RedisProcess;
let server: { port: number; proc: ChildProcess };

/** Resident memory of a process, MiB (Linux). */
function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find(l => l.startsWith('VmRSS:'))!;
  return Number(line.split(/\s+/)[1]) / 1024;
}

beforeAll(async () => {
  dynamo = await startChatTables();
  redis = await startRedis({ password: AUTH });
  const port = await freePort();
  // Node itself with tsx as a loader, so the pid is the server's (the tsx CLI would run it as a child).
  const proc = spawn(process.execPath, ['--import', 'tsx', CHAT_ENTRY], {
    env: { ...process.env, ...chatEnv(dynamo, { REALTIME_BUS_URL: redis.url, REALTIME_BUS_AUTH: AUTH }), PORT: String(port) },
    stdio: 'ignore',
  });
  server = { port, proc };
  await waitForPort(port, 20_000);
}, 60_000);

afterAll(async () => {
  if (server) {
    await stopProcess(server.proc);
  }
  await redis?.stop();
  await dynamo?.stop();
});

test(`a client that never reads and asks for large history pages in a loop costs the server at most ${RSS_BOUND_MIB} MiB; others keep getting answers`, async () => {
  // The largest page there is: 20 messages of 1,000 four-byte characters, about 80 KiB.
  const writer = await ChatClient.connect(server.port, fromOwnAddress());
  await writer.anonymous();
  await writer.join('general');
  for (let i = 0; i < 20; i++) {
    await writer.say('general', `${String(i).padStart(2, '0')}${'😀'.repeat(998)}`);
  }
  const attacker = fromOwnAddress();
  const { token } = await (await ChatClient.connect(server.port, attacker)).anonymous();
  const calm = await ChatClient.connect(server.port, fromOwnAddress());
  await calm.anonymous();
  const pageBytes = Buffer.byteLength(JSON.stringify(await calm.history('general')));
  expect(pageBytes).toBeGreaterThan(75_000);
  const baseline = rssMiB(server.proc.pid!);

  let stop = false;
  let terminated = 0;
  let requests = 0;
  // One hostile socket: resumes its session, stops reading, asks for the page 20 times a second (the
  // per-connection limit) until the server ends it; then the client opens another.
  const hostile = async () => {
    while (!stop) {
      const c = await ChatClient.connect(server.port, { ...attacker, record: false });
      await c.resume(token);
      (c.ws as any)._socket.pause();
      const closed = c.closed.then(x => x.code);
      let ended = false;
      void closed.then(() => { ended = true; });
      while (!stop && !ended) {
        c.send({ type: 'message_list', id: 1000 + requests++, room: 'general' });
        await new Promise(r => setTimeout(r, 50));
      }
      if (ended) {
        expect(await closed).toBe(1006);
        terminated++;
      } else {
        c.ws.terminate();
      }
    }
  };
  let peak = baseline;
  const sampler = setInterval(() => { peak = Math.max(peak, rssMiB(server.proc.pid!)); }, 100);
  const calmLatencies: number[] = [];
  const calmLoop = (async () => {
    while (!stop) {
      const started = Date.now();
      expect((await calm.rooms()).rooms).toHaveLength(4);
      calmLatencies.push(Date.now() - started);
      await new Promise(r => setTimeout(r, 250));
    }
  })();
  const attacks = Array.from({ length: HOSTILE_SOCKETS }, () => hostile());
  await new Promise(r => setTimeout(r, ATTACK_SECONDS * 1000));
  stop = true;
  await Promise.all([...attacks, calmLoop]);
  clearInterval(sampler);
  const growth = peak - baseline;
  // eslint-disable-next-line no-console
  console.log(`memory: baseline ${baseline.toFixed(0)} MiB, peak ${peak.toFixed(0)} MiB (+${growth.toFixed(0)}); ${requests} page requests of ${pageBytes} bytes, ${terminated} sockets terminated; calm answers max ${Math.max(...calmLatencies)} ms`);
  // The server ended the non-reading sockets itself, at once rather than after the ping sweep (tens of seconds)...
  expect(terminated).toBeGreaterThanOrEqual(HOSTILE_SOCKETS);
  // ...so its memory stayed within the bound however long the attack went on...
  expect(growth).toBeLessThan(RSS_BOUND_MIB);
  // ...and the calm client got every answer, promptly.
  expect(calmLatencies.length).toBeGreaterThan(ATTACK_SECONDS * 2);
  expect(Math.max(...calmLatencies)).toBeLessThan(2000);
  await Promise.all([writer.close(), calm.close()]);
}, 90_000);
