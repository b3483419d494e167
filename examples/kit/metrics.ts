/**
 * CloudWatch embedded-metric lines. CloudWatch Logs extracts them from the container's log (the awslogs
 * driver's PutLogEvents needs no special header), so `ActiveConnections` becomes the metric
 * RealtimeFargateService scales on, per task, averaged by CloudWatch.
 */
export class Metrics {
  private readonly counters = new Map<string, number>();
  private readonly gauges = new Map<string, () => number>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly namespace: string,
    private readonly service: string,
    private readonly write: (line: string) => void = line => process.stdout.write(line + '\n'),
  ) {}

  /** Adds to a counter that resets at every flush. */
  public count(name: string, by = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + by);
  }

  /** A value read at every flush, such as the number of open connections. */
  public gauge(name: string, read: () => number): void {
    this.gauges.set(name, read);
  }

  /** Writes one embedded-metric line with every gauge and counter, and resets the counters. */
  public flush(): void {
    const values: Record<string, number> = {};
    for (const [name, read] of this.gauges) {
      values[name] = read();
    }
    for (const [name, value] of this.counters) {
      values[name] = value;
    }
    this.counters.clear();
    const names = Object.keys(values);
    if (names.length === 0) {
      return;
    }
    this.write(JSON.stringify({
      _aws: {
        Timestamp: Date.now(),
        CloudWatchMetrics: [{
          Namespace: this.namespace,
          Dimensions: [['Service']],
          Metrics: names.map(Name => ({ Name, Unit: 'Count' })),
        }],
      },
      Service: this.service,
      ...values,
    }));
  }

  /** Flushes every `intervalMs` until `stop()`. */
  public start(intervalMs = 15_000): void {
    this.timer = setInterval(() => this.flush(), intervalMs);
    this.timer.unref();
  }

  public stop(): void {
    clearInterval(this.timer);
    this.flush();
  }
}
