import { EventEmitter } from 'events';
import Redis, { Cluster, RedisOptions } from 'ioredis';
import { RuntimeConfig } from './config';
import { Logger } from './log';

export type BusHandler = (payload: Buffer) => void;

/**
 * Publish/subscribe between the server processes of one system. Payloads are bytes: a publisher
 * serializes a message once and every subscriber gets the same bytes.
 */
export interface Bus {
  readonly kind: 'memory' | 'redis' | 'redis-cluster';
  publish(channel: string, payload: Buffer | string): Promise<void>;
  subscribe(channel: string, handler: BusHandler): Promise<void>;
  /**
   * Calls `listener` each time the subscriptions are back after the connection to the bus was lost:
   * whatever was published meanwhile never arrives, so the application reads it from its store.
   */
  onResubscribed(listener: () => void): void;
  close(): Promise<void>;
}

/** One process only: the embedded default when `REALTIME_BUS_URL` is unset. */
export class MemoryBus implements Bus {
  public readonly kind = 'memory';
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  public async publish(channel: string, payload: Buffer | string): Promise<void> {
    const bytes = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
    // Deliver asynchronously, as a network bus would, so callers never depend on re-entrancy.
    queueMicrotask(() => this.emitter.emit(channel, bytes));
  }

  public async subscribe(channel: string, handler: BusHandler): Promise<void> {
    this.emitter.on(channel, handler);
  }

  public onResubscribed(): void {
    // An in-process bus is never lost.
  }

  public async close(): Promise<void> {
    this.emitter.removeAllListeners();
  }
}

/**
 * Redis or Valkey pub/sub through ioredis: TLS and AUTH from the environment contract; reconnects and
 * resubscribes by itself after the server restarts or fails over. Against a cluster-mode endpoint
 * (`REALTIME_BUS_CLUSTER=true`, as ElastiCache Serverless always is) it uses sharded pub/sub
 * (`SPUBLISH`/`SSUBSCRIBE`), which a cluster routes to the shard owning the channel.
 */
export class RedisBus implements Bus {
  public readonly kind: 'redis' | 'redis-cluster';
  private readonly publisher: Redis | Cluster;
  private readonly subscriber: Redis | Cluster;
  private readonly handlers = new Map<string, BusHandler[]>();
  private readonly resubscribed: Array<() => void> = [];

  constructor(config: RuntimeConfig, private readonly log: Logger) {
    this.kind = config.busCluster ? 'redis-cluster' : 'redis';
    this.publisher = connectRedis(config, log, 'bus-publisher');
    this.subscriber = connectRedis(config, log, 'bus-subscriber', { sharded: true });
    const deliver = (channel: Buffer, payload: Buffer) => {
      for (const handler of this.handlers.get(channel.toString()) ?? []) {
        try {
          handler(payload);
        } catch (err) {
          this.log.error({ err, channel: channel.toString() }, 'bus handler failed');
        }
      }
    };
    this.subscriber.on(config.busCluster ? 'smessageBuffer' : 'messageBuffer', deliver);
    let readyBefore = false;
    this.subscriber.on('ready', () => {
      if (readyBefore) {
        void this.afterReconnect();
      }
      readyBefore = true;
    });
  }

  public onResubscribed(listener: () => void): void {
    this.resubscribed.push(listener);
  }

  /**
   * ioredis resubscribes by itself on reconnecting; subscribing once more (which Redis answers in order)
   * tells when that took effect, so the listeners read their stores only after the gap has closed.
   */
  private async afterReconnect(): Promise<void> {
    const channels = [...this.handlers.keys()];
    try {
      if (channels.length > 0) {
        // Sharded channels live on different shards: one call each.
        await (this.kind === 'redis-cluster' ? Promise.all(channels.map(c => this.subscriber.ssubscribe(c))) : this.subscriber.subscribe(...channels));
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'resubscribe not confirmed');
      return;
    }
    this.log.info({ channels: channels.length }, 'bus subscriptions restored');
    for (const listener of this.resubscribed) {
      try {
        listener();
      } catch (err) {
        this.log.error({ err }, 'resubscribe listener failed');
      }
    }
  }

  public async publish(channel: string, payload: Buffer | string): Promise<void> {
    if (this.kind === 'redis-cluster') {
      await this.publisher.spublish(channel, payload);
    } else {
      await this.publisher.publish(channel, payload);
    }
  }

  public async subscribe(channel: string, handler: BusHandler): Promise<void> {
    const existing = this.handlers.get(channel);
    if (existing) {
      existing.push(handler);
      return;
    }
    this.handlers.set(channel, [handler]);
    if (this.kind === 'redis-cluster') {
      await this.subscriber.ssubscribe(channel);
    } else {
      await this.subscriber.subscribe(channel);
    }
  }

  public async close(): Promise<void> {
    this.publisher.disconnect();
    this.subscriber.disconnect();
  }
}

/** The bus the environment contract asks for. */
export function createBus(config: RuntimeConfig, log: Logger): Bus {
  return config.busUrl ? new RedisBus(config, log) : new MemoryBus();
}

/**
 * A client for data commands against the bus endpoint, with the same TLS, AUTH and cluster handling.
 * Commands fail after `commandTimeoutMs` instead of queueing forever while Redis is down.
 */
export function connectRedis(
  config: RuntimeConfig, log: Logger, name: string, options: { sharded?: boolean; commandTimeoutMs?: number } = {},
): Redis | Cluster {
  if (!config.busUrl) {
    throw new Error('connectRedis needs REALTIME_BUS_URL');
  }
  const url = new URL(config.busUrl);
  const common: RedisOptions = {
    connectionName: name,
    password: config.busAuth,
    tls: url.protocol === 'rediss:' ? {} : undefined,
    commandTimeout: options.commandTimeoutMs,
    // Commands issued in the same event-loop turn share one write: far fewer system calls under load.
    enableAutoPipelining: true,
    // Keep retrying forever with a capped backoff: the bus comes back after a failover or restart.
    retryStrategy: times => Math.min(100 * 2 ** Math.min(times, 5), 2000),
    maxRetriesPerRequest: options.commandTimeoutMs ? 1 : null,
  };
  let client: Redis | Cluster;
  if (config.busCluster) {
    client = new Cluster([{ host: url.hostname, port: Number(url.port || 6379) }], {
      redisOptions: common,
      shardedSubscribers: options.sharded ?? false,
      // ElastiCache presents certificates for its DNS names; keep them instead of resolving to IPs.
      dnsLookup: (address, callback) => callback(null, address),
      clusterRetryStrategy: times => Math.min(100 * 2 ** Math.min(times, 5), 2000),
      slotsRefreshTimeout: 2000,
    });
  } else {
    client = new Redis({ host: url.hostname, port: Number(url.port || 6379), ...common });
  }
  let down = false;
  client.on('error', err => {
    if (!down) {
      log.warn({ err: err.message, client: name }, 'redis connection error; retrying');
      down = true;
    }
  });
  client.on('ready', () => {
    if (down) {
      log.info({ client: name }, 'redis connection restored');
    }
    down = false;
  });
  return client;
}
