/**
 * Names of the environment variables our constructs set in container code (the environment contract).
 * The example kit reads the same names; README documents them.
 */
export const EnvContract = {
  /** Container port the load balancer sends traffic to. */
  PORT: 'PORT',
  /** Upper bound for keepalive pings in seconds: min(ALB idle timeout, CloudFront's 600 s origin idle limit). */
  IDLE_TIMEOUT_SECONDS: 'REALTIME_IDLE_TIMEOUT_SECONDS',
  /** Seconds the container has to drain its connections after it is told to stop. */
  DRAIN_SECONDS: 'REALTIME_DRAIN_SECONDS',
  /** CloudWatch namespace of the embedded-metric lines the container emits. */
  METRICS_NAMESPACE: 'REALTIME_METRICS_NAMESPACE',
  /** Value of the `Service` dimension on those metric lines. */
  METRICS_SERVICE: 'REALTIME_METRICS_SERVICE',
  /** `rediss://host:port` of the bus; never holds the secret. */
  BUS_URL: 'REALTIME_BUS_URL',
  /** AUTH token of the bus, injected from Secrets Manager as an ECS secret. */
  BUS_AUTH: 'REALTIME_BUS_AUTH',
  /** ARN of the secret holding the AUTH token, for Lambda functions (which cannot take ECS secrets). */
  BUS_AUTH_SECRET_ARN: 'REALTIME_BUS_AUTH_SECRET_ARN',
  /** `true` when the bus endpoint is cluster mode, so clients must use sharded pub/sub. */
  BUS_CLUSTER: 'REALTIME_BUS_CLUSTER',
  /** The shard a ShardedBot task runs, `0` to `SHARD_COUNT - 1`. */
  SHARD_ID: 'SHARD_ID',
  /** How many shards the bot has. */
  SHARD_COUNT: 'SHARD_COUNT',
  /** The gateway token, injected from Secrets Manager as an ECS secret. */
  BOT_TOKEN: 'BOT_TOKEN',
  /** ARN of the bot topic that requests to shards are published to. */
  BOT_TOPIC_ARN: 'BOT_TOPIC_ARN',
  /** URL of the shard's own queue: its requests arrive there, and it is the shard's reply address. */
  BOT_QUEUE_URL: 'BOT_QUEUE_URL',
  /** URL of the command API function's own reply queue. */
  BOT_REPLY_QUEUE_URL: 'BOT_REPLY_QUEUE_URL',
  /** URL of the queue that feeds the worker functions. */
  BOT_WORK_QUEUE_URL: 'BOT_WORK_QUEUE_URL',
} as const;

/** Namespace and metric name the container emits for connection-count scaling. */
export const CONNECTION_METRIC = {
  namespace: 'CdkRealtime',
  metricName: 'ActiveConnections',
  dimension: 'Service',
} as const;
