import { DiscordAPIError } from '@discordjs/rest';
import { readShardConfig } from './config';
import { BotShard } from './shard';
import { createLogger } from '../../kit/log';

// A shard task's entry point: SHARD_ID, SHARD_COUNT, BOT_TOKEN, BOT_TOPIC_ARN and BOT_QUEUE_URL from
// ShardedBot (README "Environment"). On SIGTERM the shard closes its session and stops reading its queue;
// the next task of the shard identifies afresh. A refused token keeps the task up (see below).
const log = createLogger('bot-shard');
let shard: BotShard;
try {
  shard = new BotShard(readShardConfig(), { log });
} catch (err) {
  log.fatal({ err: (err as Error).message }, 'bad shard configuration');
  process.exit(1);
}
let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    if (stopping) {
      return;
    }
    stopping = true;
    log.info({ signal }, 'stopping');
    shard.stop().then(() => process.exit(0), err => {
      log.error({ err: (err as Error).message }, 'stop failed');
      process.exit(1);
    });
  });
}
shard.start().catch(err => {
  if (tokenRefused(err)) {
    // Restarting would not help and would spend the bot's daily session starts: wait for a new task, which
    // reads the token again, and stay up so the deployment does not roll back while the token is put in.
    log.fatal({ err: (err as Error).message }, 'the gateway refused the token; put the bot token in the token secret and redeploy this shard');
    return;
  }
  log.fatal({ err: (err as Error).message }, 'shard failed to start');
  process.exit(1);
});

function tokenRefused(err: unknown): boolean {
  return (err instanceof DiscordAPIError && err.status === 401) || (err instanceof Error && err.message === 'Authentication failed');
}
