import type { Cluster, Redis } from 'ioredis';

/**
 * Messages one user may send, whatever connections and servers it sends through: a token bucket of
 * `perSecond` tokens a second holding at most `burst`. Each message is a DynamoDB write, a stream record,
 * an indexer call and an OpenSearch write, so a user with many tabs (or scripts) must not multiply them.
 */
export interface SendLimit {
  /** Takes a token for `username`; resolves with the milliseconds until the next one when there is none, else 0. */
  take(username: string): Promise<number>;
  close(): void;
}

// KEYS: the user's bucket. ARGV: tokens per ms, burst, now (epoch ms), keep (ms).
const TAKE = `
local state = redis.call('hmget', KEYS[1], 't', 'at')
local rate, burst, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
if tokens < 1 then return math.ceil((1 - tokens) / rate) end
redis.call('hset', KEYS[1], 't', tostring(tokens - 1), 'at', ARGV[3])
redis.call('pexpire', KEYS[1], ARGV[4])
return 0`;

/** The buckets in Redis, `chat:{u:<username>}:sends`, kept only while they are not full. */
export class RedisSendLimit implements SendLimit {
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly now = () => Date.now(),
  ) {
    redis.defineCommand('chatTakeSend', { numberOfKeys: 1, lua: TAKE });
  }

  public async take(username: string): Promise<number> {
    const keepMs = Math.ceil((this.burst / this.perSecond) * 1000) + 1000;
    return (this.redis as unknown as { chatTakeSend(...args: unknown[]): Promise<number> })
      .chatTakeSend(`chat:{u:${username}}:sends`, this.perSecond / 1000, this.burst, this.now(), keepMs);
  }

  public close(): void {
    // The Redis connection belongs to the caller.
  }
}

/** The buckets of one process (no Redis), swept of full ones every minute. */
export class MemorySendLimit implements SendLimit {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly perSecond: number, private readonly burst: number, private readonly now = () => Date.now()) {
    this.sweeper = setInterval(() => {
      const full = this.now() - (this.burst / this.perSecond) * 1000;
      this.buckets.forEach((bucket, user) => bucket.at < full && this.buckets.delete(user));
    }, 60_000);
    this.sweeper.unref();
  }

  public async take(username: string): Promise<number> {
    const now = this.now();
    const bucket = this.buckets.get(username) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + (Math.max(0, now - bucket.at) * this.perSecond) / 1000);
    bucket.at = now;
    this.buckets.set(username, bucket);
    if (bucket.tokens < 1) {
      return Math.ceil(((1 - bucket.tokens) / this.perSecond) * 1000);
    }
    bucket.tokens -= 1;
    return 0;
  }

  public close(): void {
    clearInterval(this.sweeper);
  }
}
