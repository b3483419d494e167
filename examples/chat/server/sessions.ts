import { createHmac, timingSafeEqual } from 'crypto';
import { LIMITS } from './protocol';

const USERNAME = /^[a-z0-9_]{3,20}$/;

/**
 * Signed session tokens, `v1.<username>.<expires, epoch s>.<HMAC-SHA256>`, issued at every log-in. After a
 * reconnect (a drain closes every socket with 1012) the page sends the token back with `resume_session`
 * instead of the password: a redeploy then costs each returning user one HMAC, not one 32 MiB scrypt, and
 * the page never stores a password. The key comes from Secrets Manager in AWS.
 */
export class SessionSigner {
  constructor(private readonly secret: string, private readonly maxAgeMs = 12 * 3600_000) {
    if (secret.length < 16) {
      throw new Error('CHAT_SESSION_SECRET must be at least 16 characters');
    }
  }

  public issue(username: string, now = Date.now()): { token: string; expiresAt: number } {
    const expires = Math.floor((now + this.maxAgeMs) / 1000);
    return { token: `v1.${username}.${expires}.${this.sign(username, expires)}`, expiresAt: expires * 1000 };
  }

  /** The user of a valid, unexpired token; undefined otherwise. */
  public verify(token: string, now = Date.now()): { username: string; anonymous: boolean } | undefined {
    const parts = token.split('.');
    if (parts.length !== 4 || parts[0] !== 'v1') {
      return undefined;
    }
    const [, username, expiresText, mac] = parts;
    const expires = Number(expiresText);
    if (!USERNAME.test(username) || !Number.isInteger(expires) || expires * 1000 <= now) {
      return undefined;
    }
    const expected = Buffer.from(this.sign(username, expires));
    const given = Buffer.from(mac);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return undefined;
    }
    return { username, anonymous: username.startsWith(LIMITS.reservedPrefix) };
  }

  private sign(username: string, expires: number): string {
    return createHmac('sha256', this.secret).update(`${username}.${expires}`).digest('base64url');
  }
}
