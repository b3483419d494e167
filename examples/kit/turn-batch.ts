/**
 * Collects the calls made in one event-loop turn and runs them as one operation (one Redis script, one
 * message), so under load a round trip carries many calls instead of one. Each caller gets its own result
 * or the batch's error. A batch holds at most `maxItems`; more calls in the same turn start another.
 */
export class TurnBatch<I, O> {
  private items: Array<{ item: I; resolve(out: O): void; reject(err: Error): void }> = [];

  constructor(
    /** Runs one batch; resolves with one result per item, in order. */
    private readonly run: (items: I[]) => Promise<O[]>,
    private readonly maxItems = 100,
  ) {}

  public add(item: I): Promise<O> {
    return new Promise((resolve, reject) => {
      this.items.push({ item, resolve, reject });
      if (this.items.length === 1) {
        setImmediate(() => this.flush());
      } else if (this.items.length >= this.maxItems) {
        this.flush();
      }
    });
  }

  private flush(): void {
    const batch = this.items;
    if (batch.length === 0) {
      return;
    }
    this.items = [];
    this.run(batch.map(b => b.item)).then(
      out => batch.forEach((b, i) => b.resolve(out[i])),
      err => batch.forEach(b => b.reject(err as Error)),
    );
  }
}
