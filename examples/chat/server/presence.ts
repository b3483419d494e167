import type { Cluster, Redis } from 'ioredis';

/** A change of a room's presence: whether the user's first holder arrived (or last left), and the count. */
export interface PresenceChange {
  /** `join`: the user was not present before; `leave`: the user is no longer present. */
  readonly changed: boolean;
  /** Distinct users present in the room. */
  readonly numUsers: number;
}

/**
 * Who is in which room, across every server process, counted by distinct user. A *holder* is one server
 * holding a user in a room (`<username>|<server id>`, however many of that user's connections it has),
 * with an expiry; every server refreshes its holders every third of the expiry window, and a user is
 * present while any unexpired holder holds it. Two tabs of one user count once, and a user whose
 * connection moves to another server (a drain) stays present throughout if the new holder arrives before
 * the old one leaves. When a server dies without saying goodbye (SIGKILL, a lost task), its holders simply
 * stop being refreshed and drop out within one window.
 */
export interface PresenceStore {
  /** Adds (or refreshes) a holder; `changed` when the user was not present before. */
  join(room: string, username: string, server: string): Promise<PresenceChange>;
  /** Removes a holder; `changed` when that was the user's last one. */
  leave(room: string, username: string, server: string): Promise<PresenceChange>;
  /**
   * Extends this server's holders (room to the users it holds there), prunes expired holders of `rooms`,
   * and resolves with their counts.
   */
  refresh(server: string, users: ReadonlyMap<string, readonly string[]>, rooms: readonly string[]): Promise<Map<string, number>>;
  /** The counts of present users. */
  counts(rooms: readonly string[]): Promise<Map<string, number>>;
  /** Up to `max` present users of the room (in no particular order) and their count. */
  members(room: string, max: number): Promise<{ usernames: string[]; numUsers: number }>;
  close(): Promise<void>;
}

// Shared by the scripts: removes expired holders (KEYS[1]) and takes their users' counts (KEYS[2]) down.
const PRUNE = `
local function prune(holders, users, now)
  local expired = redis.call('zrangebyscore', holders, '-inf', now)
  for _, holder in ipairs(expired) do
    local user = string.match(holder, '^(.-)|')
    if redis.call('hincrby', users, user, -1) <= 0 then redis.call('hdel', users, user) end
  end
  if #expired > 0 then redis.call('zremrangebyscore', holders, '-inf', now) end
end
`;

// ARGV: now, expiry, holder, user, keep (ms).
const JOIN = `${PRUNE}
prune(KEYS[1], KEYS[2], ARGV[1])
local changed = 0
if redis.call('zadd', KEYS[1], ARGV[2], ARGV[3]) == 1 and redis.call('hincrby', KEYS[2], ARGV[4], 1) == 1 then changed = 1 end
redis.call('pexpire', KEYS[1], ARGV[5])
redis.call('pexpire', KEYS[2], ARGV[5])
return {changed, redis.call('hlen', KEYS[2])}`;

// ARGV: now, holder, user.
const LEAVE = `${PRUNE}
prune(KEYS[1], KEYS[2], ARGV[1])
local changed = 0
if redis.call('zrem', KEYS[1], ARGV[2]) == 1 and redis.call('hincrby', KEYS[2], ARGV[3], -1) <= 0 then
  redis.call('hdel', KEYS[2], ARGV[3])
  changed = 1
end
return {changed, redis.call('hlen', KEYS[2])}`;

// ARGV: now, expiry, keep (ms), holders... A holder lost meanwhile (pruned late) is counted again.
const REFRESH = `${PRUNE}
prune(KEYS[1], KEYS[2], ARGV[1])
for i = 4, #ARGV do
  if redis.call('zadd', KEYS[1], ARGV[2], ARGV[i]) == 1 then redis.call('hincrby', KEYS[2], string.match(ARGV[i], '^(.-)|'), 1) end
end
if #ARGV >= 4 then
  redis.call('pexpire', KEYS[1], ARGV[3])
  redis.call('pexpire', KEYS[2], ARGV[3])
end
return redis.call('hlen', KEYS[2])`;

interface PresenceCommands {
  chatPresenceJoin(
    holders: string, users: string, now: number, expiry: number, holder: string, user: string, keepMs: number): Promise<[number, number]>;
  chatPresenceLeave(holders: string, users: string, now: number, holder: string, user: string): Promise<[number, number]>;
  chatPresenceRefresh(holders: string, users: string, now: number, expiry: number, keepMs: number, ...refreshed: string[]): Promise<number>;
}

/**
 * Presence in Redis, two keys per room in one hash slot: `chat:{room:<room>}:holders`, a sorted set of
 * holders scored by expiry (epoch ms), and `chat:{room:<room>}:users`, a hash of user to its number of
 * unexpired holders, whose length is the count. Lua scripts keep the two in step atomically; servers compare
 * expiry times with their own clocks, which NTP keeps within milliseconds of each other.
 */
export class RedisPresence implements PresenceStore {
  private readonly commands: PresenceCommands;

  constructor(private readonly redis: Redis | Cluster, private readonly ttlMs: number, private readonly now = () => Date.now()) {
    redis.defineCommand('chatPresenceJoin', { numberOfKeys: 2, lua: JOIN });
    redis.defineCommand('chatPresenceLeave', { numberOfKeys: 2, lua: LEAVE });
    redis.defineCommand('chatPresenceRefresh', { numberOfKeys: 2, lua: REFRESH });
    this.commands = redis as unknown as PresenceCommands;
  }

  public async join(room: string, username: string, server: string): Promise<PresenceChange> {
    const now = this.now();
    const [changed, numUsers] = await this.commands.chatPresenceJoin(
      ...keys(room), now, now + this.ttlMs, holder(username, server), username, 2 * this.ttlMs);
    return { changed: changed === 1, numUsers };
  }

  public async leave(room: string, username: string, server: string): Promise<PresenceChange> {
    const [changed, numUsers] = await this.commands.chatPresenceLeave(...keys(room), this.now(), holder(username, server), username);
    return { changed: changed === 1, numUsers };
  }

  public async refresh(server: string, users: ReadonlyMap<string, readonly string[]>, rooms: readonly string[]): Promise<Map<string, number>> {
    const now = this.now();
    const counts = await Promise.all(rooms.map(async room => {
      const mine = (users.get(room) ?? []).map(u => holder(u, server));
      return [room, await this.commands.chatPresenceRefresh(...keys(room), now, now + this.ttlMs, 2 * this.ttlMs, ...mine)] as const;
    }));
    return new Map(counts);
  }

  public async counts(rooms: readonly string[]): Promise<Map<string, number>> {
    return this.refresh('', new Map(), rooms);
  }

  public async members(room: string, max: number): Promise<{ usernames: string[]; numUsers: number }> {
    const numUsers = (await this.counts([room])).get(room) ?? 0;
    const usernames: string[] = [];
    let cursor = '0';
    do {
      const [next, fields] = await this.redis.hscan(keys(room)[1], cursor, 'COUNT', max);
      for (let i = 0; i < fields.length && usernames.length < max; i += 2) {
        usernames.push(fields[i]);
      }
      cursor = next;
    } while (cursor !== '0' && usernames.length < max);
    return { usernames, numUsers };
  }

  public async close(): Promise<void> {
    // The Redis connection belongs to the caller.
  }
}

/** Presence for one process (no Redis): the same rules, in maps. */
export class MemoryPresence implements PresenceStore {
  /** Room to holder to expiry. */
  private readonly rooms = new Map<string, Map<string, number>>();

  constructor(private readonly ttlMs: number, private readonly now = () => Date.now()) {}

  public async join(room: string, username: string, server: string): Promise<PresenceChange> {
    const present = this.users(room);
    const before = present.has(username);
    this.holders(room).set(holder(username, server), this.now() + this.ttlMs);
    return { changed: !before, numUsers: this.users(room).size };
  }

  public async leave(room: string, username: string, server: string): Promise<PresenceChange> {
    const removed = this.holders(room).delete(holder(username, server));
    const present = this.users(room);
    return { changed: removed && !present.has(username), numUsers: present.size };
  }

  public async refresh(server: string, users: ReadonlyMap<string, readonly string[]>, rooms: readonly string[]): Promise<Map<string, number>> {
    const expires = this.now() + this.ttlMs;
    for (const [room, mine] of users) {
      const holders = this.holders(room);
      mine.forEach(u => holders.set(holder(u, server), expires));
    }
    return this.counts(rooms);
  }

  public async counts(rooms: readonly string[]): Promise<Map<string, number>> {
    return new Map(rooms.map(room => [room, this.users(room).size]));
  }

  public async members(room: string, max: number): Promise<{ usernames: string[]; numUsers: number }> {
    const present = this.users(room);
    return { usernames: [...present].slice(0, max), numUsers: present.size };
  }

  public async close(): Promise<void> {
    this.rooms.clear();
  }

  private holders(room: string): Map<string, number> {
    let holders = this.rooms.get(room);
    if (!holders) {
      holders = new Map();
      this.rooms.set(room, holders);
    }
    return holders;
  }

  /** The users of unexpired holders (pruning the expired). */
  private users(room: string): Set<string> {
    const holders = this.holders(room);
    const now = this.now();
    const users = new Set<string>();
    for (const [h, expires] of holders) {
      if (expires <= now) {
        holders.delete(h);
      } else {
        users.add(h.slice(0, h.indexOf('|')));
      }
    }
    return users;
  }
}

export function presenceKeys(room: string): [string, string] {
  return keys(room);
}

function keys(room: string): [string, string] {
  return [`chat:{room:${room}}:holders`, `chat:{room:${room}}:users`];
}

function holder(username: string, server: string): string {
  return `${username}|${server}`;
}
