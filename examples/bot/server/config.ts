/**
 * The shard program's environment (README "Environment"): what ShardedBot sets in each shard task, plus
 * the endpoint overrides a local run adds for the stand-ins.
 */
export interface ShardConfig {
  readonly shardId: number;
  readonly shardCount: number;
  readonly token: string;
  /** The bot topic every request is published to. */
  readonly topicArn: string;
  /** This shard's own queue: the topic delivers its requests there, and it is its reply address. */
  readonly queueUrl: string;
  /** The worker Lambda's queue for offloaded commands; unset: those commands answer that no worker is set up. */
  readonly workQueueUrl?: string;
  /** Redis for the identify pacing across shards; unset: pacing within this process only. */
  readonly busUrl?: string;
  readonly busAuth?: string;
  readonly busCluster: boolean;
  /** Local runs: the gateway stand-in's REST base (`http://127.0.0.1:<port>/api`); unset: Discord's. */
  readonly apiUrl?: string;
  /** Local runs: the SNS/SQS stand-in; unset: the AWS endpoints of the region. */
  readonly awsEndpoint?: string;
  /** Command prefix in messages. */
  readonly prefix: string;
  /** How long a cross-shard request waits for the other shards. */
  readonly requestTimeoutMs: number;
  /** Commands one user may give per window, over all shards when Redis is set. */
  readonly commandsPerUser: number;
  readonly commandWindowSeconds: number;
}

export function readShardConfig(env: NodeJS.ProcessEnv = process.env): ShardConfig {
  const shardCount = int(env, 'SHARD_COUNT', 1, 1, 4096);
  return {
    shardId: int(env, 'SHARD_ID', undefined, 0, shardCount - 1),
    shardCount,
    token: required(env, 'BOT_TOKEN'),
    topicArn: required(env, 'BOT_TOPIC_ARN'),
    queueUrl: required(env, 'BOT_QUEUE_URL'),
    workQueueUrl: env.BOT_WORK_QUEUE_URL || undefined,
    busUrl: env.REALTIME_BUS_URL || undefined,
    busAuth: env.REALTIME_BUS_AUTH || undefined,
    busCluster: env.REALTIME_BUS_CLUSTER === 'true',
    apiUrl: env.BOT_API_URL || undefined,
    awsEndpoint: env.BOT_AWS_ENDPOINT || undefined,
    prefix: env.BOT_PREFIX || '!',
    requestTimeoutMs: int(env, 'BOT_REQUEST_TIMEOUT_MS', 3000, 100, 60_000),
    commandsPerUser: int(env, 'BOT_COMMANDS_PER_USER', 5, 1, 1000),
    commandWindowSeconds: int(env, 'BOT_COMMAND_WINDOW_SECONDS', 10, 1, 3600),
  };
}

export function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) {
    throw new Error(`${name} is not set`);
  }
  return value;
}

export function int(env: NodeJS.ProcessEnv, name: string, fallback: number | undefined, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') {
    if (fallback === undefined) {
      throw new Error(`${name} is not set (a whole number from ${min} to ${max})`);
    }
    return fallback;
  }
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name}=${raw} is not a whole number from ${min} to ${max}`);
  }
  return value;
}
