import { LocalGateway, LocalGatewayOptions } from './gateway';
import { LocalMessaging } from './messaging';
import { ShardConfig } from '../server/config';
import { ALL_SHARDS, SHARD_ATTRIBUTE } from '../server/envelope';

/**
 * The bot's messaging as ShardedBot builds it, on the LOCAL STAND-INS: one topic, one queue per shard
 * subscribed with the filter policy `shard` ∈ [id, "all"] and raw delivery, each with a dead-letter queue;
 * the work queue and the command API's reply queue. Queue settings are ShardedBot's defaults
 * (visibility timeout 30 s, 5 receives before the dead-letter queue).
 */
export const LOCAL_TOKEN = 'local-bot-token';
export const MAX_RECEIVE_COUNT = 5;
export const VISIBILITY_TIMEOUT_SECONDS = 30;

export interface LocalBotOptions {
  readonly shardCount: number;
  readonly gateway?: Omit<LocalGatewayOptions, 'token'>;
  /** Use a running messaging stand-in instead of starting one. */
  readonly messaging?: LocalMessaging;
  readonly messagingPort?: number;
}

export interface LocalBot {
  readonly gateway: LocalGateway;
  readonly messaging: LocalMessaging;
  readonly shardCount: number;
  readonly topicArn: string;
  readonly shardQueues: string[];
  readonly workQueue: string;
  readonly replyQueue: string;
  /** A shard's configuration on these stand-ins; `extra` overrides. */
  shardConfig(shardId: number, extra?: Partial<ShardConfig>): ShardConfig;
  /** The same as environment variables, for a shard process. */
  shardEnv(shardId: number, extra?: Record<string, string>): Record<string, string>;
  stop(): Promise<void>;
}

export function shardQueueName(shardId: number): string {
  return `bot-shard-${shardId}`;
}

export async function startLocalBot(options: LocalBotOptions): Promise<LocalBot> {
  const gateway = await LocalGateway.start({ token: LOCAL_TOKEN, ...options.gateway });
  const messaging = options.messaging ?? await LocalMessaging.start(options.messagingPort);
  const topicArn = messaging.createTopic('bot');
  const queue = (name: string, dlq = true) => {
    if (dlq) {
      messaging.createQueue({ name: `${name}-dlq` });
    }
    return messaging.createQueue({
      name, visibilityTimeoutSeconds: VISIBILITY_TIMEOUT_SECONDS, ...(dlq ? { maxReceiveCount: MAX_RECEIVE_COUNT, deadLetterQueue: `${name}-dlq` } : {}),
    });
  };
  const shardQueues = Array.from({ length: options.shardCount }, (_, id) => {
    const url = queue(shardQueueName(id));
    messaging.subscribe({ topic: 'bot', queue: shardQueueName(id), filterPolicy: { [SHARD_ATTRIBUTE]: [String(id), ALL_SHARDS] }, rawMessageDelivery: true });
    return url;
  });
  const workQueue = queue('bot-work');
  const replyQueue = queue('bot-api-replies', false);
  const shardConfig = (shardId: number, extra: Partial<ShardConfig> = {}): ShardConfig => ({
    shardId,
    shardCount: options.shardCount,
    token: LOCAL_TOKEN,
    topicArn,
    queueUrl: shardQueues[shardId],
    workQueueUrl: workQueue,
    busCluster: false,
    apiUrl: gateway.apiUrl,
    awsEndpoint: messaging.endpoint,
    prefix: '!',
    requestTimeoutMs: 3000,
    commandsPerUser: 5,
    commandWindowSeconds: 10,
    ...extra,
  });
  return {
    gateway,
    messaging,
    shardCount: options.shardCount,
    topicArn,
    shardQueues,
    workQueue,
    replyQueue,
    shardConfig,
    shardEnv: (shardId, extra = {}) => ({
      SHARD_ID: String(shardId),
      SHARD_COUNT: String(options.shardCount),
      BOT_TOKEN: LOCAL_TOKEN,
      BOT_TOPIC_ARN: topicArn,
      BOT_QUEUE_URL: shardQueues[shardId],
      BOT_WORK_QUEUE_URL: workQueue,
      BOT_API_URL: gateway.apiUrl,
      BOT_AWS_ENDPOINT: messaging.endpoint,
      ...extra,
    }),
    async stop() {
      await gateway.stop();
      if (!options.messaging) {
        await messaging.stop();
      }
    },
  };
}
