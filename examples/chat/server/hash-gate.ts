/**
 * At most `max` password hashes at once in this process. Each scrypt takes 32 MiB and about 60 ms of a
 * core; more at once only queue on libuv's thread pool (4 threads) and hold their memory meanwhile, so a
 * log-in beyond the limit is refused at once (`busy`, with a retry time) instead of waiting.
 */
export class HashGate {
  private running = 0;

  constructor(public readonly max: number) {}

  /** Runs `hash` if a slot is free; resolves undefined, without running it, when every slot is taken. */
  public async tryRun<T>(hash: () => Promise<T>): Promise<{ value: T } | undefined> {
    if (this.running >= this.max) {
      return undefined;
    }
    this.running++;
    try {
      return { value: await hash() };
    } finally {
      this.running--;
    }
  }

  public get inUse(): number {
    return this.running;
  }
}
