import * as http from 'http';
import { AddressInfo } from 'net';
import { WebSocket } from 'ws';
import { z } from 'zod';
import { HttpError, readConfig, RealtimeServer, RealtimeServerOptions } from '..';
import { createLogger } from '../log';

const silent = createLogger('test', 'silent');

type Ctx = { user: string };
const schema = z.object({ type: z.literal('say'), text: z.string().max(100), id: z.number().optional() });

async function start(options: Partial<RealtimeServerOptions<Ctx, z.infer<typeof schema>>> = {}, env: Record<string, string> = {}) {
  const server = new RealtimeServer<Ctx, z.infer<typeof schema>>({
    name: 'test',
    log: silent,
    config: readConfig({ PORT: '0', REALTIME_DRAIN_SECONDS: '0', ...env }),
    authenticate: (_req, url) => {
      const user = url.searchParams.get('user');
      if (!user) {
        throw new HttpError(401, 'unauthorized', 'pass ?user=');
      }
      return { user };
    },
    messages: {
      schema,
      handle: (client, message) => {
        if (message.text === 'boom') {
          throw new Error('handler bug');
        }
        server.broadcast(JSON.stringify({ type: 'said', by: client.context.user, text: message.text }));
      },
    },
    ...options,
  });
  const port = await server.listen();
  running.push(server);
  return { server, port };
}

const running: RealtimeServer<any, any>[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map(s => s.shutdown('test end')));
});

function connect(port: number, path = '/ws?user=ann'): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
}

function next(ws: WebSocket): Promise<any> {
  return new Promise(resolve => ws.once('message', data => resolve(JSON.parse(data.toString()))));
}

function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise(resolve => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
}

describe('RealtimeServer', () => {
  test('answers /healthz, 404s unknown paths, and runs the application routes', async () => {
    const { port } = await start({
      http: (_req, res, url) => {
        if (url.pathname !== '/hello') {
          return false;
        }
        res.end('hi');
        return true;
      },
    });
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    expect(await (await fetch(`http://127.0.0.1:${port}/hello`)).text()).toBe('hi');
    const missing = await fetch(`http://127.0.0.1:${port}/nope`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: 'not_found', message: 'no route for GET /nope' });
  });

  test('a failing route answers 500 and the server keeps serving', async () => {
    const { port } = await start({ http: () => { throw new Error('bug'); } });
    const res = await fetch(`http://127.0.0.1:${port}/any`);
    expect(res.status).toBe(500);
    expect((await res.json()).error).toBe('internal');
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
  });

  test('refuses upgrades on other paths and without authentication', async () => {
    const { port } = await start();
    await expect(connect(port, '/other?user=ann')).rejects.toThrow('HTTP 404');
    await expect(connect(port, '/ws')).rejects.toThrow('HTTP 401');
  });

  test('validates every message: good ones are handled, bad ones get an error frame', async () => {
    const { port } = await start();
    const ws = await connect(port);
    const cases: Array<[string | Buffer, any]> = [
      ['{"type":"say","text":"hi"}', { type: 'said', by: 'ann', text: 'hi' }],
      ['not json', { type: 'error', code: 'bad_json', message: 'the message is not valid JSON' }],
      ['{"type":"shout","text":"hi","id":7}', { type: 'error', code: 'bad_message', message: expect.stringContaining('type: Invalid input'), id: 7 }],
      [JSON.stringify({ type: 'say', text: 'x'.repeat(101) }), { type: 'error', code: 'bad_message', message: expect.stringContaining('text: Too big') }],
      [Buffer.from([1, 2, 3]), { type: 'error', code: 'bad_message', message: 'send JSON text frames' }],
      ['{"type":"say","text":"boom","id":9}', { type: 'error', code: 'internal', message: 'the message could not be handled; try again', id: 9 }],
    ];
    for (const [frame, expected] of cases) {
      const reply = next(ws);
      ws.send(frame, { binary: Buffer.isBuffer(frame) });
      expect(await reply).toEqual(expected);
    }
    ws.close();
  });

  test('closes a socket that sends an oversized frame with 1009 and keeps serving others', async () => {
    const { port } = await start({ maxFrameBytes: 1024 });
    const [big, other] = await Promise.all([connect(port), connect(port)]);
    const gone = closed(big);
    big.send('x'.repeat(2000));
    expect((await gone).code).toBe(1009);
    const reply = next(other);
    other.send('{"type":"say","text":"still here"}');
    expect((await reply).text).toBe('still here');
    other.close();
  });

  test('answers a frame above maxMessageBytes with an error frame and keeps the connection', async () => {
    const { port } = await start({ maxFrameBytes: 4096, maxMessageBytes: 1024 });
    const ws = await connect(port);
    const refused = next(ws);
    ws.send(JSON.stringify({ type: 'say', text: 'x'.repeat(2000) }));
    expect(await refused).toEqual({ type: 'error', code: 'frame_too_large', message: expect.stringMatching(/^the message is \d+ bytes; the limit is 1024$/) });
    const reply = next(ws);
    ws.send('{"type":"say","text":"still open"}');
    expect((await reply).text).toBe('still open');
    ws.close();
  });

  test('broadcasts to the given clients only, when a client list is passed', async () => {
    const { server, port } = await start();
    const [ann, bob] = await Promise.all([connect(port), connect(port, '/ws?user=bob')]);
    const bobGot: any[] = [];
    bob.on('message', d => bobGot.push(JSON.parse(d.toString())));
    const annClient = [...server.clients].find(c => c.context.user === 'ann')!;
    const first = next(ann);
    expect(server.broadcast(JSON.stringify({ to: 'ann only' }), { binary: false, clients: [annClient] })).toBe(1);
    expect(await first).toEqual({ to: 'ann only' });
    // A later broadcast to everyone reaches bob, and nothing before it did.
    const marker = new Promise(resolve => bob.once('message', resolve));
    server.broadcast(JSON.stringify({ to: 'all' }), { binary: false });
    await marker;
    expect(bobGot).toEqual([{ to: 'all' }]);
    ann.close();
    bob.close();
  });

  test('rate-limits a flooding client, then closes it with 1008, while others are served', async () => {
    const { port } = await start({ rateLimit: { perSecond: 5, burst: 5 } });
    const [flood, calm] = await Promise.all([connect(port), connect(port, '/ws?user=bob')]);
    const errors: any[] = [];
    flood.on('message', d => { const m = JSON.parse(d.toString()); if (m.type === 'error') errors.push(m); });
    const gone = closed(flood);
    for (let i = 0; i < 40; i++) {
      flood.send('{"type":"say","text":"spam"}');
    }
    expect(await gone).toEqual({ code: 1008, reason: 'rate limit exceeded' });
    expect(errors[0]).toEqual({ type: 'error', code: 'rate_limited', message: 'at most 5 messages a second', retryAfterMs: expect.any(Number) });
    await new Promise(r => setTimeout(r, 250));
    const reply = new Promise<any>(resolve => calm.on('message', d => { const m = JSON.parse(d.toString()); if (m.text === 'calm') resolve(m); }));
    calm.send('{"type":"say","text":"calm"}');
    expect((await reply).by).toBe('bob');
    calm.close();
  });

  test('an endpoint without message handling answers client messages with an error frame', async () => {
    const { port } = await start({ messages: undefined });
    const ws = await connect(port);
    const reply = next(ws);
    ws.send('{"anything":1}');
    expect(await reply).toEqual({ type: 'error', code: 'not_accepted', message: 'this endpoint only sends; it takes no messages' });
    ws.close();
  });

  test('broadcasts the same bytes to every client and closes a client too slow to take them', async () => {
    // 8 KiB a millisecond stays under 512 KiB per 33 ms flush for a client that reads.
    const { server, port } = await start({ maxBufferedBytes: 512 * 1024 });
    const fast = await connect(port);
    const slow = await connect(port, '/ws?user=slow');
    // Stop reading on the slow client's side so the server's send buffer fills up.
    (slow as any)._socket.pause();
    let fastCount = 0;
    fast.on('message', () => fastCount++);
    const frame = Buffer.alloc(8 * 1024, 7);
    let done = false;
    const slowClosed = new Promise<void>(resolve => {
      const check = setInterval(() => {
        const c = [...server.clients].find(x => x.context.user === 'slow');
        if (!c || c.socket.readyState >= WebSocket.CLOSING) {
          clearInterval(check);
          done = true;
          resolve();
        }
      }, 10);
    });
    let broadcasts = 0;
    const deadline = Date.now() + 10_000;
    while (!done && Date.now() < deadline) {
      server.broadcast(frame);
      broadcasts++;
      await new Promise(r => setTimeout(r, 1));
    }
    await slowClosed;
    expect(done).toBe(true);
    await new Promise(r => setTimeout(r, 300));
    expect(fastCount).toBe(broadcasts);
    fast.close();
    slow.terminate();
  });

  test('a client that asks for large replies and never reads them is terminated at the outbound limit', async () => {
    // Defaults: 4 MiB outbound per socket, 20 messages a second in bursts of 40. Each reply is 256 KiB.
    const limit = 4 * 1024 * 1024;
    const reply = 'y'.repeat(256 * 1024);
    const { server, port } = await start({
      messages: { schema, handle: (client, message) => client.send({ type: 'reply', text: message.text === 'big' ? reply : message.text }) },
    });
    const [greedy, calm] = await Promise.all([connect(port, '/ws?user=greedy'), connect(port, '/ws?user=calm')]);
    // Stop reading: TCP backpressure builds up and the server's replies stay in its memory.
    (greedy as any)._socket.pause();
    const greedyClient = [...server.clients].find(c => c.context.user === 'greedy')!;
    for (let i = 0; i < 40; i++) {
      greedy.send('{"type":"say","text":"big"}');
    }
    const deadline = Date.now() + 5000;
    while (server.clients.has(greedyClient) && Date.now() < deadline) {
      await new Promise(r => setTimeout(r, 20));
    }
    // Terminated without a close handshake, and what it was sent before stayed within the limit.
    expect(server.clients.has(greedyClient)).toBe(false);
    expect(greedyClient.socket.readyState).toBe(WebSocket.CLOSED);
    expect(greedyClient.pendingBytes).toBe(0);
    let received = 0;
    const raw = (greedy as any)._socket;
    raw.on('data', (d: Buffer) => { received += d.length; });
    raw.resume();
    await new Promise(r => raw.once('close', r));
    expect(received).toBeLessThanOrEqual(limit);
    // Others are served as before.
    const answer = next(calm);
    calm.send('{"type":"say","text":"still answered"}');
    expect(await answer).toEqual({ type: 'reply', text: 'still answered' });
    calm.close();
    greedy.terminate();
  });

  test('malformed percent-encoding answers 400, on HTTP routes and upgrades alike', async () => {
    const { port } = await start({ http: (_req, res, url) => { res.end(decodeURIComponent(url.pathname)); return true; } });
    const get = (path: string, headers: Record<string, string> = {}) => new Promise<{ status: number; body: string }>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path, headers }, res => {
        let body = '';
        res.on('data', d => { body += d; });
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      }).on('error', reject);
    });
    for (const path of ['/%zz', '/a%', '/%E0%A4%A', '/%C0%AF']) {
      expect([path, await get(path)]).toEqual([path, { status: 400, body: JSON.stringify({ error: 'bad_url', message: 'the request URL is malformed (check its percent-encoding)' }) }]);
    }
    expect(await get('/caf%C3%A9')).toEqual({ status: 200, body: '/café' });
    const upgrade = await get('/ws%zz?user=ann', { 'connection': 'Upgrade', 'upgrade': 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' });
    expect(upgrade.status).toBe(400);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
  });

  test('connectionsPerAddress: an address (IPv6 by /64) holds at most max connections; beyond, 429; a closed one frees its place', async () => {
    const { port } = await start({ connectionsPerAddress: { max: 2, trustedProxies: 1 } });
    const from = (address: string) => new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?user=ann`, { headers: { 'x-forwarded-for': address } });
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode} ${res.headers['retry-after']}`)));
    });
    const first = await Promise.all([from('2001:db8:5:6::1'), from('2001:db8:5:6::2')]);
    await expect(from('2001:db8:5:6:ffff::3')).rejects.toThrow('HTTP 429 5');
    const elsewhere = await from('2001:db8:5:7::1');
    const gone = closed(first[0]);
    first[0].close();
    await gone;
    // The server notices the close as the client does; give it a moment.
    let again: WebSocket | undefined;
    for (let i = 0; i < 50 && !again; i++) {
      again = await from('2001:db8:5:6::4').catch(() => undefined);
      if (!again) {
        await new Promise(r => setTimeout(r, 20));
      }
    }
    expect(again).toBeDefined();
    [first[1], elsewhere, again!].forEach(ws => ws.close());
  });

  test('pings inside the idle bound', async () => {
    const { port } = await start({}, { REALTIME_IDLE_TIMEOUT_SECONDS: '3' });
    const ws = await connect(port);
    const started = Date.now();
    await new Promise(resolve => ws.once('ping', resolve));
    expect(Date.now() - started).toBeLessThan(3000);
    ws.close();
  });

  test('drains: /healthz 503, upgrades refused, clients closed with 1012 spread over the window, then onDrain', async () => {
    const events: string[] = [];
    const { server, port } = await start({ onDrain: async () => { events.push('onDrain'); } }, { REALTIME_DRAIN_SECONDS: '1' });
    const sockets = await Promise.all(Array.from({ length: 10 }, (_, i) => connect(port, `/ws?user=u${i}`)));
    const closedAt = sockets.map(ws => closed(ws).then(c => { events.push('closed'); return { ...c, at: Date.now() }; }));
    const begun = Date.now();
    const drained = server.drain('test');
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(503);
    await expect(connect(port)).rejects.toThrow('HTTP 503');
    await drained;
    const results = await Promise.all(closedAt);
    expect(results.every(r => r.code === 1012 && r.reason === 'server restarting')).toBe(true);
    const spread = Math.max(...results.map(r => r.at)) - begun;
    expect(spread).toBeGreaterThan(500);
    expect(spread).toBeLessThan(1500);
    expect(events[events.length - 1]).toBe('onDrain');
  });

  test('starts draining when the ECS task metadata says the task is stopping, before any SIGTERM', async () => {
    let desired = 'RUNNING';
    const metadata = http.createServer((req, res) => {
      res.writeHead(req.url === '/v4/task' ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ DesiredStatus: desired, KnownStatus: 'RUNNING' }));
    });
    await new Promise<void>(r => metadata.listen(0, '127.0.0.1', r));
    const uri = `http://127.0.0.1:${(metadata.address() as AddressInfo).port}/v4`;
    const { server, port } = await start({}, { ECS_CONTAINER_METADATA_URI_V4: uri, REALTIME_DRAIN_SECONDS: '1' });
    const ws = await connect(port);
    const gone = closed(ws);
    await new Promise(r => setTimeout(r, 2500));
    expect(server.draining).toBe(false);
    desired = 'STOPPED';
    expect((await gone).code).toBe(1012);
    expect(server.draining).toBe(true);
    metadata.close();
    expect(server.draining).toBe(true);
  });

  test('emits ActiveConnections, MessagesIn and MessagesOut as an embedded-metric line', async () => {
    const { server, port } = await start({}, { REALTIME_METRICS_SERVICE: 'svc-1' });
    const lines: string[] = [];
    (server.metrics as any).write = (line: string) => lines.push(line);
    const ws = await connect(port);
    const reply = next(ws);
    ws.send('{"type":"say","text":"count me"}');
    await reply;
    server.metrics.flush();
    const emf = JSON.parse(lines[0]);
    expect(emf).toEqual({
      _aws: {
        Timestamp: expect.any(Number),
        CloudWatchMetrics: [{
          Namespace: 'CdkRealtime',
          Dimensions: [['Service']],
          Metrics: [
            { Name: 'ActiveConnections', Unit: 'Count' },
            { Name: 'MessagesIn', Unit: 'Count' },
            { Name: 'MessagesOut', Unit: 'Count' },
          ],
        }],
      },
      Service: 'svc-1',
      ActiveConnections: 1,
      MessagesIn: 1,
      MessagesOut: 1,
    });
    ws.close();
  });
});
