import { createHmac, randomBytes, timingSafeEqual } from 'crypto';
import type { Cluster, Redis } from 'ioredis';
import { LIMITS } from './protocol';

const USERNAME = /^[a-z0-9_]{3,20}$/;
const SESSION_ID = /^[A-Za-z0-9_-]{22}$/;

/** What a valid token says: whose session, which one, and when it ends. */
export interface SessionClaims {
  readonly username: string;
  readonly anonymous: boolean;
  /** Random id of the log-in; the session store knows whether it is still live. */
  readonly sessionId: string;
  /** Epoch ms; fixed at the log-in. */
  readonly expiresAt: number;
}

/**
 * Signed session tokens, `v2.<username>.<session id>.<expires, epoch s>.<HMAC-SHA256>`, issued at a log-in.
 * After a reconnect (a drain closes every socket with 1012) the page sends the token back with
 * `resume_session` instead of the password: a redeploy then costs each returning user one HMAC and one
 * Redis read, not one 32 MiB scrypt, and the page never stores a password. A resume gives back the same
 * token, so a session ends at a fixed time after its log-in however often it is resumed, and the session
 * store ends it earlier on a log-out. The key comes from Secrets Manager in AWS.
 */
export class SessionSigner {
  constructor(private readonly secret: string, public readonly maxAgeMs = 12 * 3600_000) {
    if (secret.length < 16) {
      throw new Error('CHAT_SESSION_SECRET must be at least 16 characters');
    }
  }

  /** A new session for `username`: its claims and its token. */
  public issue(username: string, now = Date.now()): { token: string; claims: SessionClaims } {
    const expires = Math.floor((now + this.maxAgeMs) / 1000);
    const sessionId = randomBytes(16).toString('base64url');
    return {
      token: `v2.${username}.${sessionId}.${expires}.${this.sign(username, sessionId, expires)}`,
      claims: { username, anonymous: username.startsWith(LIMITS.reservedPrefix), sessionId, expiresAt: expires * 1000 },
    };
  }

  /** The claims of a well-signed, unexpired token; undefined otherwise (revocation is the store's part). */
  public verify(token: string, now = Date.now()): SessionClaims | undefined {
    const parts = token.split('.');
    if (parts.length !== 5 || parts[0] !== 'v2') {
      return undefined;
    }
    const [, username, sessionId, expiresText, mac] = parts;
    const expires = Number(expiresText);
    if (!USERNAME.test(username) || !SESSION_ID.test(sessionId) || !Number.isInteger(expires) || expires * 1000 <= now) {
      return undefined;
    }
    const expected = Buffer.from(this.sign(username, sessionId, expires));
    const given = Buffer.from(mac);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return undefined;
    }
    return { username, anonymous: username.startsWith(LIMITS.reservedPrefix), sessionId, expiresAt: expires * 1000 };
  }

  private sign(username: string, sessionId: string, expires: number): string {
    return createHmac('sha256', this.secret).update(`${username}.${sessionId}.${expires}`).digest('base64url');
  }
}

/**
 * The live sessions of every user, checked on every resume, so a log-out ends a session on every server
 * at once. Each user keeps at most `maxPerUser` (the oldest go first).
 */
export interface SessionStore {
  /** Records a session. With `onlyIfNew`, only when the user has no live session (reserves a new anonymous name): false if it had. */
  add(claims: SessionClaims, onlyIfNew?: boolean): Promise<boolean>;
  isLive(claims: SessionClaims): Promise<boolean>;
  /** Ends one session. */
  revoke(username: string, sessionId: string): Promise<void>;
  /** Ends every session of the user. */
  revokeAll(username: string): Promise<void>;
  close(): void;
}

// KEYS: the user's sessions. ARGV: session id, expiry (epoch ms), now, only-if-new (1/0), max per user.
const ADD_SESSION = `
if ARGV[4] == '1' and redis.call('exists', KEYS[1]) == 1 then return 0 end
redis.call('zremrangebyscore', KEYS[1], '-inf', ARGV[3])
redis.call('zadd', KEYS[1], ARGV[2], ARGV[1])
redis.call('zremrangebyrank', KEYS[1], 0, -1 - tonumber(ARGV[5]))
redis.call('pexpireat', KEYS[1], redis.call('zrange', KEYS[1], -1, -1, 'withscores')[2])
return 1`;

/**
 * Sessions in Redis: per user a sorted set `chat:{u:<username>}:sessions` of session ids scored by their
 * expiry, which expires with its last session. One key per command, so it works on cluster mode.
 */
export class RedisSessionStore implements SessionStore {
  constructor(private readonly redis: Redis | Cluster, private readonly maxPerUser = 50, private readonly now = () => Date.now()) {
    redis.defineCommand('chatAddSession', { numberOfKeys: 1, lua: ADD_SESSION });
  }

  public async add(claims: SessionClaims, onlyIfNew = false): Promise<boolean> {
    const added = await (this.redis as unknown as { chatAddSession(...args: unknown[]): Promise<number> })
      .chatAddSession(sessionsKey(claims.username), claims.sessionId, claims.expiresAt, this.now(), onlyIfNew ? 1 : 0, this.maxPerUser);
    return added === 1;
  }

  public async isLive(claims: SessionClaims): Promise<boolean> {
    const score = await this.redis.zscore(sessionsKey(claims.username), claims.sessionId);
    return score !== null && Number(score) > this.now();
  }

  public async revoke(username: string, sessionId: string): Promise<void> {
    await this.redis.zrem(sessionsKey(username), sessionId);
  }

  public async revokeAll(username: string): Promise<void> {
    await this.redis.del(sessionsKey(username));
  }

  public close(): void {
    // The Redis connection belongs to the caller.
  }
}

/** Sessions of one process (no Redis): the same rules in a map, swept every minute. */
export class MemorySessionStore implements SessionStore {
  private readonly users = new Map<string, Map<string, number>>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly maxPerUser = 50, private readonly now = () => Date.now()) {
    this.sweeper = setInterval(() => this.users.forEach((_, user) => this.live(user)), 60_000);
    this.sweeper.unref();
  }

  public async add(claims: SessionClaims, onlyIfNew = false): Promise<boolean> {
    const sessions = this.live(claims.username);
    if (onlyIfNew && sessions.size > 0) {
      return false;
    }
    sessions.set(claims.sessionId, claims.expiresAt);
    // Insertion order is age order: drop the oldest beyond the limit.
    for (const id of sessions.keys()) {
      if (sessions.size <= this.maxPerUser) {
        break;
      }
      sessions.delete(id);
    }
    this.users.set(claims.username, sessions);
    return true;
  }

  public async isLive(claims: SessionClaims): Promise<boolean> {
    return this.live(claims.username).has(claims.sessionId);
  }

  public async revoke(username: string, sessionId: string): Promise<void> {
    this.users.get(username)?.delete(sessionId);
  }

  public async revokeAll(username: string): Promise<void> {
    this.users.delete(username);
  }

  public close(): void {
    clearInterval(this.sweeper);
  }

  private live(username: string): Map<string, number> {
    const sessions = this.users.get(username) ?? new Map<string, number>();
    const now = this.now();
    for (const [id, expiresAt] of sessions) {
      if (expiresAt <= now) {
        sessions.delete(id);
      }
    }
    if (sessions.size === 0) {
      this.users.delete(username);
    }
    return sessions;
  }
}

export function sessionsKey(username: string): string {
  return `chat:{u:${username}}:sessions`;
}
