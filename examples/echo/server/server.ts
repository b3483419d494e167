import * as http from 'http';
import Redis from 'ioredis';
import { WebSocket, WebSocketServer } from 'ws';

// Environment contract set by RealtimeFargateService and RedisPubSubBus (see README).
const port = Number(process.env.PORT ?? 8080);
const keepaliveBound = Number(process.env.REALTIME_IDLE_TIMEOUT_SECONDS ?? 120);
const drainSeconds = Number(process.env.REALTIME_DRAIN_SECONDS ?? 30);
const busUrl = process.env.REALTIME_BUS_URL;
const CHANNEL = 'echo';
const MAX_MESSAGE_BYTES = 4096;

let draining = false;
const server = http.createServer((req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(draining ? 503 : 200, { 'content-type': 'text/plain' }).end(draining ? 'draining' : 'ok');
    return;
  }
  res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
});
const wss = new WebSocketServer({ server, path: '/ws', maxPayload: MAX_MESSAGE_BYTES });
const alive = new WeakSet<WebSocket>();

// Every message goes through the bus so clients of every task see it; without a bus, only this process.
const publisher = busUrl ? new Redis(busUrl, { password: process.env.REALTIME_BUS_AUTH }) : undefined;
const subscriber = publisher?.duplicate();
subscriber?.subscribe(CHANNEL).catch(err => log('error', 'subscribe failed', { err: String(err) }));
subscriber?.on('message', (_channel, text) => broadcast(text));
[publisher, subscriber].forEach(r => r?.on('error', err => log('warn', 'bus error', { err: String(err) })));

wss.on('connection', socket => {
  alive.add(socket);
  socket.on('pong', () => alive.add(socket));
  socket.on('message', (data, isBinary) => {
    if (isBinary) {
      socket.send(JSON.stringify({ error: 'send text frames' }));
      return;
    }
    const text = JSON.stringify({ echo: data.toString(), at: Date.now() });
    if (publisher) {
      publisher.publish(CHANNEL, text).catch(() => socket.send(JSON.stringify({ error: 'bus unavailable, try again' })));
    } else {
      broadcast(text);
    }
  });
  socket.on('error', () => socket.terminate());
});

function broadcast(text: string): void {
  for (const client of wss.clients) {
    if (client.readyState === WebSocket.OPEN) {
      client.send(text);
    }
  }
}

// Ping at a third of the idle bound so a connection never looks idle to the load balancer.
const pinger = setInterval(() => {
  for (const client of wss.clients) {
    if (!alive.has(client)) {
      client.terminate();
      continue;
    }
    alive.delete(client);
    client.ping();
  }
}, Math.max(1000, (keepaliveBound * 1000) / 3));

process.on('SIGTERM', () => {
  draining = true;
  const clients = [...wss.clients];
  const spacing = clients.length > 0 ? (drainSeconds * 1000 * 0.8) / clients.length : 0;
  log('info', 'draining', { clients: clients.length, drainSeconds });
  clients.forEach((client, i) => setTimeout(() => client.close(1012, 'server restarting'), i * spacing));
  setTimeout(() => {
    clearInterval(pinger);
    wss.close();
    server.close();
    publisher?.disconnect();
    subscriber?.disconnect();
    process.exit(0);
  }, clients.length * spacing + 100);
});

function log(level: string, msg: string, fields: object = {}): void {
  process.stdout.write(JSON.stringify({ level, time: new Date().toISOString(), msg, ...fields }) + '\n');
}

server.listen(port, () => log('info', 'listening', { port }));
