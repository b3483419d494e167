import { REST } from '@discordjs/rest';
import { LocalEventSource, LocalHttpApi, pollQueueIntoHandler, serveHttpApi } from './lambda-runners';
import { LocalBot, LocalBotOptions, LOCAL_TOKEN, startLocalBot } from './local-bot';
import { createLogger, Logger } from '../../kit/log';
import { createCommandHandler } from '../lambda/command-api';
import { createWorkerHandler } from '../lambda/worker';
import { ShardConfig } from '../server/config';
import { BotMessaging } from '../server/messaging';
import { BotShard } from '../server/shard';

/**
 * The whole bot in one process on the LOCAL STAND-INS: gateway, SNS/SQS, `shardCount` shards, the command
 * API function behind a local HTTP API, and the worker function on the work queue. Used by the tests, the
 * benchmark and `npm run dev bot`.
 */
export interface LocalSystem {
  readonly bot: LocalBot;
  /** Index = shard id; `undefined` while a shard is stopped. */
  readonly shards: Array<BotShard | undefined>;
  readonly commandApi: LocalHttpApi;
  /** Stops one shard (closes its session, stops reading its queue). */
  stopShard(shardId: number): Promise<void>;
  /** Starts a shard again (a new task of the shard); resolves once it is READY. */
  startShard(shardId: number, extra?: Partial<ShardConfig>): Promise<BotShard>;
  stop(): Promise<void>;
}

export interface LocalSystemOptions extends LocalBotOptions {
  readonly log?: Logger;
  /** Per-shard configuration on top of the stand-ins'. */
  readonly shardConfig?: Partial<ShardConfig>;
  readonly commandTimeoutMs?: number;
  readonly commandApiPort?: number;
}

export async function startLocalSystem(options: LocalSystemOptions): Promise<LocalSystem> {
  const log = options.log ?? createLogger('bot', process.env.LOG_LEVEL ?? 'warn');
  const bot = await startLocalBot(options);
  const shards: Array<BotShard | undefined> = [];
  const startShard = async (shardId: number, extra: Partial<ShardConfig> = {}) => {
    const shard = new BotShard(bot.shardConfig(shardId, { ...options.shardConfig, ...extra }), { log: log.child({ shard: shardId }) });
    shards[shardId] = shard;
    await shard.start();
    return shard;
  };
  await Promise.all(Array.from({ length: options.shardCount }, (_, id) => startShard(id)));

  const commandApi = await serveHttpApi('/commands', createCommandHandler({
    topicArn: bot.topicArn,
    replyQueueUrl: bot.replyQueue,
    shardCount: options.shardCount,
    timeoutMs: options.commandTimeoutMs ?? 3000,
    awsEndpoint: bot.messaging.endpoint,
  }), options.commandApiPort);
  const workerMessaging = new BotMessaging({ endpoint: bot.messaging.endpoint });
  const worker: LocalEventSource = pollQueueIntoHandler(workerMessaging, bot.workQueue, createWorkerHandler({
    rest: new REST({ version: '10', api: bot.gateway.apiUrl }).setToken(LOCAL_TOKEN),
    messaging: workerMessaging,
    log: (level, msg, fields) => log[level](fields, msg),
  }));

  return {
    bot,
    shards,
    commandApi,
    startShard,
    async stopShard(shardId) {
      const shard = shards[shardId];
      shards[shardId] = undefined;
      await shard?.stop();
    },
    async stop() {
      await Promise.all(shards.map(s => s?.stop()));
      await worker.stop();
      workerMessaging.close();
      await commandApi.stop();
      await bot.stop();
    },
  };
}
