import { createHmac, randomBytes, timingSafeEqual } from 'crypto';

/**
 * Signed anonymous identities. The server issues `v1.<user>.<issued>.<hmac>`; a placement's cooldown is
 * keyed on `<user>`, which works behind load balancers and CloudFront (unlike the socket's remote
 * address, which there is the proxy's). Forging one needs the secret, which comes from Secrets Manager.
 */
export class TokenSigner {
  constructor(private readonly secret: string, private readonly maxAgeSeconds = 30 * 24 * 3600) {
    if (secret.length < 16) {
      throw new Error('the token secret must be at least 16 characters');
    }
  }

  public issue(now = Date.now()): { token: string; user: string } {
    const user = randomBytes(9).toString('base64url');
    const issued = Math.floor(now / 1000);
    return { token: `v1.${user}.${issued}.${this.sign(user, issued)}`, user };
  }

  /** The user of a valid, unexpired token; undefined otherwise. */
  public verify(token: string, now = Date.now()): string | undefined {
    const parts = token.split('.');
    if (parts.length !== 4 || parts[0] !== 'v1') {
      return undefined;
    }
    const [, user, issuedText, mac] = parts;
    const issued = Number(issuedText);
    if (!/^[A-Za-z0-9_-]{12}$/.test(user) || !Number.isInteger(issued) || now / 1000 - issued > this.maxAgeSeconds) {
      return undefined;
    }
    const expected = Buffer.from(this.sign(user, issued));
    const given = Buffer.from(mac);
    return given.length === expected.length && timingSafeEqual(given, expected) ? user : undefined;
  }

  private sign(user: string, issued: number): string {
    return createHmac('sha256', this.secret).update(`${user}.${issued}`).digest('base64url');
  }
}
