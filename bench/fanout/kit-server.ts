import { z } from 'zod';
import { createBus, createLogger, readConfig, RealtimeServer } from '../../examples/kit';

// Fan-out server on the kit: a `pub` message is published once on the bus and every server broadcasts
// the same bytes to all its clients.
const config = readConfig();
const log = createLogger('bench-kit', 'warn');
const bus = createBus(config, log);
const Pub = z.object({ type: z.literal('pub'), d: z.string().max(64) });
const server = new RealtimeServer<undefined, z.infer<typeof Pub>>({
  name: 'bench-kit',
  config,
  log,
  rateLimit: { perSecond: 1_000_000, burst: 1_000_000 },
  minFlushIntervalMs: process.env.BENCH_KIT_FLUSH_MS ? Number(process.env.BENCH_KIT_FLUSH_MS) : undefined,
  metricsIntervalMs: 3_600_000,
  messages: {
    schema: Pub,
    handle: async (_client, message) => {
      await bus.publish('bench', JSON.stringify({ d: message.d }));
    },
  },
  onShutdown: () => bus.close(),
});
void bus.subscribe('bench', payload => server.broadcast(payload, { binary: false }));
server.handleSignals();
void server.listen().then(port => process.send?.({ port }));
