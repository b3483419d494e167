import { readShardConfig } from './config';
import { BotShard } from './shard';
import { createLogger } from '../../kit/log';

// A shard task's entry point: SHARD_ID, SHARD_COUNT, BOT_TOKEN, BOT_TOPIC_ARN and BOT_QUEUE_URL from
// ShardedBot (README "Environment"). On SIGTERM the shard closes its session and stops reading its queue;
// the next task of the shard identifies afresh.
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
  log.fatal({ err: (err as Error).message }, 'shard failed to start');
  process.exit(1);
});
