import { createHmac, timingSafeEqual } from 'crypto';
import { QUIZ_ID, USER_ID } from './protocol';

/** Who a token speaks for: the host of a quiz, or one participant of it. */
export type Identity =
  | { readonly role: 'host'; readonly quizId: string }
  | { readonly role: 'participant'; readonly quizId: string; readonly userId: string };

/**
 * Sign-on tokens, `v1.<base64url JSON claims>.<HMAC-SHA256>`. Every server verifies them with the same
 * key (Secrets Manager in AWS), so a participant can reconnect to any server; nothing about the quiz lives
 * in one process.
 */
export class TokenSigner {
  constructor(private readonly secret: string, private readonly maxAgeMs = 24 * 3600_000) {
    if (secret.length < 16) {
      throw new Error('QUIZ_TOKEN_SECRET must be at least 16 characters');
    }
  }

  public issue(identity: Identity, now = Date.now()): string {
    const claims = identity.role === 'host'
      ? { q: identity.quizId, r: 'h', e: Math.floor((now + this.maxAgeMs) / 1000) }
      : { q: identity.quizId, r: 'p', u: identity.userId, e: Math.floor((now + this.maxAgeMs) / 1000) };
    const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
    return `v1.${body}.${this.sign(body)}`;
  }

  /** The identity of a valid, unexpired token; undefined otherwise. */
  public verify(token: string, now = Date.now()): Identity | undefined {
    const parts = token.split('.');
    if (parts.length !== 3 || parts[0] !== 'v1' || parts[1].length > 200) {
      return undefined;
    }
    const expected = Buffer.from(this.sign(parts[1]));
    const given = Buffer.from(parts[2]);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return undefined;
    }
    let claims: { q?: unknown; r?: unknown; u?: unknown; e?: unknown };
    try {
      claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    } catch {
      return undefined;
    }
    if (typeof claims.q !== 'string' || !QUIZ_ID.test(claims.q) || typeof claims.e !== 'number' || claims.e * 1000 <= now) {
      return undefined;
    }
    if (claims.r === 'h') {
      return { role: 'host', quizId: claims.q };
    }
    if (claims.r === 'p' && typeof claims.u === 'string' && USER_ID.test(claims.u)) {
      return { role: 'participant', quizId: claims.q, userId: claims.u };
    }
    return undefined;
  }

  private sign(body: string): string {
    return createHmac('sha256', this.secret).update(body).digest('base64url');
  }
}
