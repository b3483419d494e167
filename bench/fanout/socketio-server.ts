import * as http from 'http';
import { createAdapter } from '@socket.io/redis-adapter';
import Redis from 'ioredis';
import { Server } from 'socket.io';

// The baseline: socket.io 4 with its Redis adapter, WebSocket transport only, no compression.
const httpServer = http.createServer();
const io = new Server(httpServer, { transports: ['websocket'], perMessageDeflate: false, serveClient: false });
const pub = new Redis(process.env.REALTIME_BUS_URL!, { password: process.env.REALTIME_BUS_AUTH });
const sub = pub.duplicate();
io.adapter(createAdapter(pub, sub));
io.on('connection', socket => {
  socket.on('pub', (d: string) => {
    io.emit('msg', d);
  });
});
process.once('SIGTERM', () => {
  void io.close();
  pub.disconnect();
  sub.disconnect();
  process.exit(0);
});
httpServer.listen(Number(process.env.PORT ?? 0), () => process.send?.({ port: (httpServer.address() as { port: number }).port }));
