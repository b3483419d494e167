import type { Cluster, Redis } from 'ioredis';

/**
 * Commands per user per window, across every shard: one user writing `!stats` in a loop would otherwise
 * make every shard work and the bot spend its REST budget. With Redis the count is one key per user and
 * window (a user's guilds can sit on different shards); without, each shard counts on its own.
 */
export interface CommandCounter {
  /** Counts one command of `userId` in the current window and returns the count so far. */
  hit(userId: string, windowSeconds: number): Promise<number>;
}

/** Most users a memory counter tracks per window; beyond, new users are counted as over the limit. */
const MEMORY_MAX_USERS = 100_000;

export class MemoryCommandCounter implements CommandCounter {
  private window = -1;
  private readonly counts = new Map<string, number>();

  public async hit(userId: string, windowSeconds: number): Promise<number> {
    const window = Math.floor(Date.now() / 1000 / windowSeconds);
    if (window !== this.window) {
      this.window = window;
      this.counts.clear();
    }
    if (!this.counts.has(userId) && this.counts.size >= MEMORY_MAX_USERS) {
      return Number.MAX_SAFE_INTEGER;
    }
    const count = (this.counts.get(userId) ?? 0) + 1;
    this.counts.set(userId, count);
    return count;
  }
}

export class RedisCommandCounter implements CommandCounter {
  constructor(private readonly redis: Redis | Cluster, private readonly keyPrefix: string) {}

  public async hit(userId: string, windowSeconds: number): Promise<number> {
    const window = Math.floor(Date.now() / 1000 / windowSeconds);
    const key = `${this.keyPrefix}:commands:${userId}:${window}`;
    const [[, count]] = await this.redis.multi().incr(key).expire(key, windowSeconds * 2).exec() as [[Error | null, number], unknown];
    return count;
  }
}

export type LimitVerdict = 'allow' | 'refuse-and-say' | 'refuse-quietly';

/** Allows `limit` commands per user per window; the first refused one is answered, the rest are not. */
export class CommandLimiter {
  constructor(private readonly counter: CommandCounter, public readonly limit: number, public readonly windowSeconds: number) {}

  public async check(userId: string): Promise<LimitVerdict> {
    let count: number;
    try {
      count = await this.counter.hit(userId, this.windowSeconds);
    } catch {
      // The store is down: answer rather than go silent; the REST client still paces what goes out.
      return 'allow';
    }
    if (count <= this.limit) {
      return 'allow';
    }
    return count === this.limit + 1 ? 'refuse-and-say' : 'refuse-quietly';
  }
}
