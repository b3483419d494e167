/**
 * The cache engine behind a RedisPubSubBus.
 *
 * Valkey is the default: it is the open-source (BSD) continuation of Redis OSS, ElastiCache prices its
 * nodes about 20 % lower than Redis OSS (33 % lower for serverless), and its wire protocol is the same.
 */
export class BusEngine {
  /** Valkey 8.0. */
  public static readonly VALKEY_8 = new BusEngine('valkey', '8.0');
  /** Valkey 7.2. */
  public static readonly VALKEY_7 = new BusEngine('valkey', '7.2');
  /** Redis OSS 7.1. */
  public static readonly REDIS_7 = new BusEngine('redis', '7.1');

  /**
   * Any engine and version ElastiCache offers, e.g. `BusEngine.of('valkey', '8.1')`.
   *
   * @param engine `valkey` or `redis`
   * @param version full version, e.g. `8.1`
   */
  public static of(engine: string, version: string): BusEngine {
    if (engine !== 'valkey' && engine !== 'redis') {
      throw new Error(`BusEngine.of: engine '${engine}' is not supported; use 'valkey' or 'redis'`);
    }
    if (!/^\d+\.\d+$/.test(version)) {
      throw new Error(`BusEngine.of: version '${version}' is not a major.minor version such as '8.0'`);
    }
    return new BusEngine(engine, version);
  }

  /**
   * @param engine the ElastiCache engine name
   * @param version the engine version
   */
  private constructor(public readonly engine: string, public readonly version: string) {}

  /** The major version, as serverless caches take it. */
  public get majorVersion(): string {
    return this.version.split('.')[0];
  }
}
