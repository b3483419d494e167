import { randomBytes } from 'crypto';
import type { Cluster, Redis } from 'ioredis';

/** How long a lease lives without renewal: a task that dies holds its places at most this long. */
export const CONNECTION_LEASE_MS = 60_000;

// KEYS: the address's leases (a sorted set, member to expiry in ms). ARGV: now, leaseMs, max, member.
// Expired leases (of a task that died) are dropped first, so they never count.
const ACQUIRE_SCRIPT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[2]), ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`;

type WithAcquire = (Redis | Cluster) & {
  realtimeLeaseAcquire(key: string, now: number, leaseMs: number, max: number, member: string): Promise<number>;
};

export interface ConnectionLeasesOptions {
  /** Keys are `realtime:connections:<scope>:<address key>`, so systems sharing a Redis count apart. */
  readonly scope: string;
  /** @default CONNECTION_LEASE_MS (60 s); renewed every third of it */
  readonly leaseMs?: number;
}

/**
 * Open connections per client address counted across every task in Redis: each connection holds a lease
 * in the address's sorted set, renewed while it is open and removed when it closes. A task that dies
 * without closing its connections frees their places when the leases expire.
 */
export class ConnectionLeases {
  private readonly redis: WithAcquire;
  private readonly leaseMs: number;
  private readonly scope: string;
  /** This process's prefix for lease members. */
  private readonly task = randomBytes(6).toString('hex');
  /** Open leases by Redis key, for the renewals. */
  private readonly held = new Map<string, Set<string>>();
  private renewer?: NodeJS.Timeout;
  private nextMember = 1;

  constructor(redis: Redis | Cluster, options: ConnectionLeasesOptions) {
    redis.defineCommand('realtimeLeaseAcquire', { numberOfKeys: 1, lua: ACQUIRE_SCRIPT });
    this.redis = redis as WithAcquire;
    this.scope = options.scope;
    this.leaseMs = options.leaseMs ?? CONNECTION_LEASE_MS;
    this.renewer = setInterval(() => void this.renew().catch(() => undefined), this.leaseMs / 3);
    this.renewer.unref();
  }

  /** A lease for one more connection of `address`, or undefined when it already holds `max`. */
  public async acquire(address: string, max: number): Promise<{ release(): void } | undefined> {
    const key = `realtime:connections:${this.scope}:${address}`;
    const member = `${this.task}:${this.nextMember++}`;
    if (await this.redis.realtimeLeaseAcquire(key, Date.now(), this.leaseMs, max, member) !== 1) {
      return undefined;
    }
    const members = this.held.get(key) ?? new Set<string>();
    members.add(member);
    this.held.set(key, members);
    let released = false;
    return {
      release: () => {
        if (released) {
          return;
        }
        released = true;
        members.delete(member);
        if (members.size === 0 && this.held.get(key) === members) {
          this.held.delete(key);
        }
        // Best effort: a lease that cannot be removed now expires by itself.
        this.redis.zrem(key, member).catch(() => undefined);
      },
    };
  }

  /** Pushes the expiry of every open lease of this process forward; one command per address. */
  public async renew(): Promise<void> {
    const expiry = Date.now() + this.leaseMs;
    await Promise.all([...this.held].map(([key, members]) => {
      const pairs = [...members].flatMap(m => [expiry, m]);
      return Promise.all([this.redis.zadd(key, ...pairs), this.redis.pexpire(key, this.leaseMs)]);
    }));
  }

  /** Stops renewing and gives back every open lease. */
  public async close(): Promise<void> {
    clearInterval(this.renewer);
    const keys = [...this.held];
    this.held.clear();
    await Promise.all(keys.map(([key, members]) => this.redis.zrem(key, ...members).catch(() => undefined)));
    this.redis.disconnect();
  }
}
