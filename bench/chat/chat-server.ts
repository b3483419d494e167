import { ChatServer, readSettings } from '../../examples/chat/server/chat';

// The chat server as the container runs it (examples/chat/server/server.ts), reporting its port to the
// benchmark over IPC, and stopping if the benchmark goes away without stopping it.
const chat = new ChatServer(readSettings());
chat.server.handleSignals();
process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
chat.start().then(port => process.send?.({ port }), err => {
  chat.log.fatal({ err }, 'chat failed to start');
  process.exit(1);
});
