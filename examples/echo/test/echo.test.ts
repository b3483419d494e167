import * as path from 'path';
import { WebSocket } from 'ws';
import { startServer, ServerProcess } from '../../../test/support/node-server';
import { RedisProcess, startRedis } from '../../../test/support/redis-server';

const ENTRY = path.join(__dirname, '..', 'server', 'server.ts');

function open(port: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function nextMessage(ws: WebSocket): Promise<any> {
  return new Promise(resolve => ws.once('message', data => resolve(JSON.parse(data.toString()))));
}

function closeCode(ws: WebSocket): Promise<number> {
  return new Promise(resolve => ws.once('close', code => resolve(code)));
}

describe('echo server without a bus', () => {
  let server: ServerProcess;
  beforeAll(async () => { server = await startServer(ENTRY, { REALTIME_DRAIN_SECONDS: '2' }); });
  afterAll(() => server.stop());

  test('answers /healthz and echoes a message to every client', async () => {
    expect((await fetch(`http://127.0.0.1:${server.port}/healthz`)).status).toBe(200);
    const [a, b] = await Promise.all([open(server.port), open(server.port)]);
    const received = Promise.all([nextMessage(a), nextMessage(b)]);
    a.send(JSON.stringify({ type: 'echo', text: 'hello' }));
    const [toA, toB] = await received;
    expect(toA).toEqual({ type: 'echo', text: 'hello', at: expect.any(Number) });
    expect(toB).toEqual(toA);
    a.close();
    b.close();
  });

  test('answers bad messages with error frames and closes an oversized one with 1009', async () => {
    const ws = await open(server.port);
    for (const [frame, code] of [[Buffer.from([1, 2, 3]), 'bad_message'], ['{"type":"echo"}', 'bad_message'], ['{', 'bad_json']] as const) {
      const reply = nextMessage(ws);
      ws.send(frame);
      expect(await reply).toMatchObject({ type: 'error', code });
    }
    const code = closeCode(ws);
    ws.send('x'.repeat(5000));
    expect(await code).toBe(1009);
    // The server keeps serving others.
    const other = await open(server.port);
    const echo = nextMessage(other);
    other.send(JSON.stringify({ type: 'echo', text: 'still here' }));
    expect((await echo).text).toBe('still here');
    other.close();
  });

  test('on SIGTERM turns /healthz to 503, closes clients with 1012 over the drain window and exits 0', async () => {
    const sockets = await Promise.all(Array.from({ length: 5 }, () => open(server.port)));
    const codes = Promise.all(sockets.map(closeCode));
    server.proc.kill('SIGTERM');
    await new Promise(r => setTimeout(r, 100));
    expect((await fetch(`http://127.0.0.1:${server.port}/healthz`)).status).toBe(503);
    expect(await codes).toEqual([1012, 1012, 1012, 1012, 1012]);
    expect(await server.exited).toBe(0);
  });
});

describe('echo servers sharing a real redis-server', () => {
  let redis: RedisProcess;
  let servers: ServerProcess[];
  beforeAll(async () => {
    redis = await startRedis({ password: 'test-token' });
    const env = { REALTIME_BUS_URL: redis.url, REALTIME_BUS_AUTH: 'test-token' };
    servers = await Promise.all([startServer(ENTRY, env), startServer(ENTRY, env)]);
  });
  afterAll(async () => {
    await Promise.all(servers.map(s => s.stop()));
    await redis.stop();
  });

  test('a message sent through one server reaches clients of the other', async () => {
    const [a, b] = await Promise.all([open(servers[0].port), open(servers[1].port)]);
    // Subscriptions are set up asynchronously after start; retry until the other side hears us.
    let got: any;
    for (let attempt = 0; attempt < 20 && !got; attempt++) {
      const heard = nextMessage(b);
      a.send(JSON.stringify({ type: 'echo', text: `across ${attempt}` }));
      got = await Promise.race([heard, new Promise(r => setTimeout(r, 250))]);
    }
    expect(got?.text).toMatch(/^across \d+$/);
    a.close();
    b.close();
  });
});
