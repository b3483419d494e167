/** A token bucket: `ratePerSecond` tokens a second, at most `burst` saved up. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(private readonly ratePerSecond: number, private readonly burst: number, private readonly now = () => performance.now()) {
    this.tokens = burst;
    this.last = now();
  }

  /** Takes one token; false when there is none. */
  public take(): boolean {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.ratePerSecond);
    this.last = now;
    if (this.tokens < 1) {
      return false;
    }
    this.tokens -= 1;
    return true;
  }

  /** Milliseconds until the next token. */
  public waitMs(): number {
    return Math.ceil(((1 - this.tokens) / this.ratePerSecond) * 1000);
  }
}
