import { ChatServer, readSettings } from './chat';

// The chat container's entry point: settings from the environment contract and CHAT_* variables.
const chat = new ChatServer(readSettings());
chat.server.handleSignals();
chat.start().catch(err => {
  chat.log.fatal({ err }, 'chat failed to start');
  process.exit(1);
});
