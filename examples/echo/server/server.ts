import { z } from 'zod';
import { createBus, createLogger, readConfig, RealtimeServer } from '../../kit';

// Every message goes through the bus, so clients of every task see it; without REALTIME_BUS_URL the
// in-memory bus keeps it inside this process.
const config = readConfig();
const log = createLogger('echo');
const bus = createBus(config, log);
const CHANNEL = 'echo';

const Message = z.object({ type: z.literal('echo'), text: z.string().min(1).max(1000) });

const server = new RealtimeServer<undefined, z.infer<typeof Message>>({
  name: 'echo',
  config,
  log,
  maxFrameBytes: 4096,
  messages: {
    schema: Message,
    handle: async (_client, message) => {
      await bus.publish(CHANNEL, JSON.stringify({ type: 'echo', text: message.text, at: Date.now() }));
    },
  },
  onShutdown: () => bus.close(),
});

void bus.subscribe(CHANNEL, payload => server.broadcast(payload, { binary: false }));
server.handleSignals();
void server.listen();
