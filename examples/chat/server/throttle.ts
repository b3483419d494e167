import type { Cluster, Redis } from 'ioredis';

/**
 * Log-in throttling: at most `limit` attempts per key in a fixed window that starts with the key's first
 * attempt; a success clears the key. An attempt is counted *before* the password is checked, so many
 * connections guessing at once cannot all slip past the limit while their hashes run: the count is the
 * number of failures plus the attempts still in flight.
 */
export interface AttemptThrottle {
  /** Counts an attempt; resolves with the milliseconds to wait if it is over the limit (refuse it), else 0. */
  attempt(key: string): Promise<number>;
  /** Forgets the key's attempts (after a success). */
  clear(key: string): Promise<void>;
  close(): void;
}

/**
 * Attempts in Redis, `chat:login-attempts:<key>` with the window as its expiry, so the limit on a user name
 * holds across every server process.
 */
export class RedisAttemptThrottle implements AttemptThrottle {
  constructor(private readonly redis: Redis | Cluster, private readonly limit: number, private readonly windowMs: number) {}

  public async attempt(key: string): Promise<number> {
    const k = redisKey(key);
    // SET NX starts the window with its expiry; INCR counts within it. One key, one transaction.
    const out = await this.redis.multi().set(k, 0, 'PX', this.windowMs, 'NX').incr(k).pttl(k).exec();
    if (!out || out.some(([err]) => err)) {
      throw out?.find(([err]) => err)?.[0] ?? new Error('throttle transaction aborted');
    }
    const attempts = Number(out[1][1]);
    const ttl = Number(out[2][1]);
    return attempts > this.limit ? Math.max(ttl, 1) : 0;
  }

  public async clear(key: string): Promise<void> {
    await this.redis.del(redisKey(key));
  }

  public close(): void {
    // The Redis connection belongs to the caller.
  }
}

/** Attempts in this process: for keys that live in it (a connection), or when there is no Redis. */
export class MemoryAttemptThrottle implements AttemptThrottle {
  private readonly windows = new Map<string, { attempts: number; endsAt: number }>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly limit: number, private readonly windowMs: number, private readonly now = () => Date.now()) {
    this.sweeper = setInterval(() => {
      const at = this.now();
      for (const [key, window] of this.windows) {
        if (window.endsAt <= at) {
          this.windows.delete(key);
        }
      }
    }, windowMs);
    this.sweeper.unref();
  }

  public async attempt(key: string): Promise<number> {
    const now = this.now();
    let window = this.windows.get(key);
    if (!window || window.endsAt <= now) {
      window = { attempts: 0, endsAt: now + this.windowMs };
      this.windows.set(key, window);
    }
    window.attempts++;
    return window.attempts > this.limit ? window.endsAt - now : 0;
  }

  public async clear(key: string): Promise<void> {
    this.windows.delete(key);
  }

  public close(): void {
    clearInterval(this.sweeper);
  }
}

function redisKey(key: string): string {
  return `chat:login-attempts:${key}`;
}
