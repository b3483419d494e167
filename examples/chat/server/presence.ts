import type { Cluster, Redis } from 'ioredis';

/**
 * Who is in which room, across every server process, with expiry: each connection is a member with an
 * expiry time; every server refreshes its own live connections every third of the expiry window, and
 * counts include only unexpired members. When a server dies without saying goodbye (SIGKILL, a lost
 * task), its members simply stop being refreshed and drop out of the counts within one window.
 */
export interface PresenceStore {
  /** Adds (or refreshes) a member; resolves with the room's count. */
  join(room: string, member: string): Promise<number>;
  /** Removes a member; resolves with the room's count. */
  leave(room: string, member: string): Promise<number>;
  /**
   * Extends the expiry of `members` (room to its members on this server), prunes expired members of
   * `rooms`, and resolves with their counts.
   */
  refresh(members: ReadonlyMap<string, readonly string[]>, rooms: readonly string[]): Promise<Map<string, number>>;
  /** The counts of unexpired members. */
  counts(rooms: readonly string[]): Promise<Map<string, number>>;
  close(): Promise<void>;
}

/**
 * Presence in Redis: one sorted set per room, `chat:presence:<room>`, member = connection id
 * (`<server id>.<n>`), score = expiry time in epoch ms. A count is the number of scores after now; expired
 * members are pruned whenever a count is taken. Every command touches one key, so it works unchanged on a
 * cluster-mode endpoint; servers compare expiry times with their own clocks, which NTP keeps within
 * milliseconds of each other, far inside the window.
 */
export class RedisPresence implements PresenceStore {
  constructor(private readonly redis: Redis | Cluster, private readonly ttlMs: number, private readonly now = () => Date.now()) {}

  public async join(room: string, member: string): Promise<number> {
    const now = this.now();
    const key = presenceKey(room);
    const out = await this.redis.multi()
      .zadd(key, now + this.ttlMs, member)
      .zremrangebyscore(key, '-inf', now)
      .zcard(key)
      .pexpire(key, 2 * this.ttlMs)
      .exec();
    return count(out, 2);
  }

  public async leave(room: string, member: string): Promise<number> {
    const now = this.now();
    const key = presenceKey(room);
    const out = await this.redis.multi()
      .zrem(key, member)
      .zremrangebyscore(key, '-inf', now)
      .zcard(key)
      .exec();
    return count(out, 2);
  }

  public async refresh(members: ReadonlyMap<string, readonly string[]>, rooms: readonly string[]): Promise<Map<string, number>> {
    const now = this.now();
    const counts = await Promise.all(rooms.map(async room => {
      const key = presenceKey(room);
      const mine = members.get(room) ?? [];
      const tx = this.redis.multi();
      if (mine.length > 0) {
        tx.zadd(key, ...mine.flatMap(m => [now + this.ttlMs, m])).pexpire(key, 2 * this.ttlMs);
      }
      const out = await tx.zremrangebyscore(key, '-inf', now).zcard(key).exec();
      return [room, count(out, out ? out.length - 1 : 0)] as const;
    }));
    return new Map(counts);
  }

  public async counts(rooms: readonly string[]): Promise<Map<string, number>> {
    const now = this.now();
    const counts = await Promise.all(rooms.map(async room => [room, await this.redis.zcount(presenceKey(room), `(${now}`, '+inf')] as const));
    return new Map(counts);
  }

  public async close(): Promise<void> {
    // The Redis connection belongs to the caller.
  }
}

/** Presence for one process (no Redis): the same expiry rules, in a map. */
export class MemoryPresence implements PresenceStore {
  private readonly rooms = new Map<string, Map<string, number>>();

  constructor(private readonly ttlMs: number, private readonly now = () => Date.now()) {}

  public async join(room: string, member: string): Promise<number> {
    this.members(room).set(member, this.now() + this.ttlMs);
    return this.prune(room);
  }

  public async leave(room: string, member: string): Promise<number> {
    this.members(room).delete(member);
    return this.prune(room);
  }

  public async refresh(members: ReadonlyMap<string, readonly string[]>, rooms: readonly string[]): Promise<Map<string, number>> {
    const expires = this.now() + this.ttlMs;
    for (const [room, mine] of members) {
      const set = this.members(room);
      mine.forEach(m => set.set(m, expires));
    }
    return new Map(rooms.map(room => [room, this.prune(room)]));
  }

  public async counts(rooms: readonly string[]): Promise<Map<string, number>> {
    return new Map(rooms.map(room => [room, this.prune(room)]));
  }

  public async close(): Promise<void> {
    this.rooms.clear();
  }

  private members(room: string): Map<string, number> {
    let set = this.rooms.get(room);
    if (!set) {
      set = new Map();
      this.rooms.set(room, set);
    }
    return set;
  }

  private prune(room: string): number {
    const set = this.members(room);
    const now = this.now();
    for (const [member, expires] of set) {
      if (expires <= now) {
        set.delete(member);
      }
    }
    return set.size;
  }
}

export function presenceKey(room: string): string {
  return `chat:presence:${room}`;
}

function count(out: Array<[Error | null, unknown]> | null, index: number): number {
  if (!out) {
    throw new Error('presence transaction aborted');
  }
  const [err, value] = out[index];
  if (err) {
    throw err;
  }
  return Number(value);
}
