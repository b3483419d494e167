import { setTimeout as sleep } from 'timers/promises';
import type { IIdentifyThrottler } from '@discordjs/ws';
import type { Cluster, Redis } from 'ioredis';

/**
 * The gateway lets each identify bucket (`shard_id % max_concurrency`) start one session per 5 seconds
 * (https://discord.com/developers/docs/events/gateway#sharding-max-concurrency). A gate hands out that
 * slot: `tryAcquire` takes it and returns 0, or returns how many ms until it may be free.
 */
export interface IdentifyGate {
  tryAcquire(bucket: number, holder: string, windowMs: number): Promise<number>;
}

/**
 * How long a bucket's slot is held: the gateway's 5 s plus a margin, because the gateway measures when an
 * identify arrives and a shard takes the slot a little before it sends (event-loop lag, network). Without
 * the margin two shards of one bucket can land 4.9 s apart and the second is closed with 4008.
 */
export const IDENTIFY_WINDOW_MS = 5000 + 1000;

/** Shards that run in one process (the embedded default): one map of bucket → slot end. */
export class MemoryIdentifyGate implements IdentifyGate {
  private readonly until = new Map<number, number>();

  public async tryAcquire(bucket: number, _holder: string, windowMs: number): Promise<number> {
    const now = Date.now();
    const end = this.until.get(bucket) ?? 0;
    if (end > now) {
      return end - now;
    }
    this.until.set(bucket, now + windowMs);
    return 0;
  }
}

/**
 * Shards in separate tasks: the slot is a Redis key set with NX that expires after IDENTIFY_WINDOW_MS, so exactly one shard
 * of a bucket gets it per window whichever task it runs in. `keyPrefix` names the bot (the shard program
 * uses a hash of its token), so that two bots on one Redis do not share buckets.
 */
export class RedisIdentifyGate implements IdentifyGate {
  constructor(private readonly redis: Redis | Cluster, private readonly keyPrefix: string) {}

  public async tryAcquire(bucket: number, holder: string, windowMs: number): Promise<number> {
    const key = `${this.keyPrefix}:identify:${bucket}`;
    const ok = await this.redis.set(key, holder, 'PX', windowMs, 'NX');
    if (ok === 'OK') {
      return 0;
    }
    const ttl = await this.redis.pttl(key);
    // -2: gone meanwhile (try again now); -1 cannot happen (always set with PX), but never wait forever.
    return ttl < 0 ? 1 : ttl;
  }
}

/** @discordjs/ws's identify throttler on a gate: waits for the shard's bucket slot, or until aborted. */
export class GateIdentifyThrottler implements IIdentifyThrottler {
  constructor(
    private readonly gate: IdentifyGate,
    private readonly maxConcurrency: number,
    private readonly holder: (shardId: number) => string,
    private readonly windowMs = IDENTIFY_WINDOW_MS,
  ) {
    if (!Number.isInteger(maxConcurrency) || maxConcurrency < 1) {
      throw new Error(`max_concurrency ${maxConcurrency} from GET /gateway/bot is not a whole number of at least 1`);
    }
  }

  public async waitForIdentify(shardId: number, signal: AbortSignal): Promise<void> {
    const bucket = shardId % this.maxConcurrency;
    for (;;) {
      signal.throwIfAborted();
      let waitMs: number;
      try {
        waitMs = await this.gate.tryAcquire(bucket, this.holder(shardId), this.windowMs);
      } catch {
        // The store is unreachable: identifying now could break the limit for every shard; wait and ask again.
        waitMs = 1000;
      }
      if (waitMs === 0) {
        return;
      }
      // A little jitter so that shards waiting on one bucket do not ask at the same instant.
      await sleep(waitMs + Math.floor(Math.random() * 50), undefined, { signal });
    }
  }
}
