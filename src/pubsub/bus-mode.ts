import { Size } from 'aws-cdk-lib';

/**
 * Options of a provisioned (node-based) bus: one primary and its replicas, cluster mode disabled.
 */
export interface ProvisionedBusOptions {
  /**
   * The node type. Burstable `t4g` nodes suit development and light pub/sub; for sustained fan-out use
   * `cache.m7g.large` or larger, whose network and CPU do not depend on credits.
   *
   * @default 'cache.t4g.small'
   */
  readonly nodeType?: string;

  /**
   * Read replicas beside the primary, from 0 to 5. With at least one, the primary fails over automatically
   * (usually within a minute) and nodes are placed in different Availability Zones.
   *
   * @default 1
   */
  readonly replicas?: number;
}

/**
 * Options of a serverless bus. Serverless caches are always cluster mode: clients must use sharded
 * pub/sub (`SPUBLISH`/`SSUBSCRIBE`), and `REALTIME_BUS_CLUSTER=true` tells them so.
 */
export interface ServerlessBusOptions {
  /**
   * Most ElastiCache Processing Units per second the cache may use (1,000 to 15,000,000).
   *
   * @default - no limit
   */
  readonly maxEcpuPerSecond?: number;

  /**
   * Most data the cache may hold (1 GB to 5,000 GB).
   *
   * @default - no limit
   */
  readonly maxDataStorage?: Size;
}

/**
 * How the bus's cache is provisioned: `BusMode.provisioned(...)` or `BusMode.serverless(...)`.
 */
export class BusMode {
  /**
   * A node-based replication group with automatic failover across Availability Zones.
   */
  public static provisioned(options: ProvisionedBusOptions = {}): BusMode {
    return new BusMode(false, options, undefined);
  }

  /**
   * An ElastiCache Serverless cache, billed per use and scaled by AWS; always cluster mode.
   */
  public static serverless(options: ServerlessBusOptions = {}): BusMode {
    return new BusMode(true, undefined, options);
  }

  /** True for a serverless cache. */
  public readonly isServerless: boolean;
  /** Options of a provisioned bus. */
  public readonly provisionedOptions?: ProvisionedBusOptions;
  /** Options of a serverless bus. */
  public readonly serverlessOptions?: ServerlessBusOptions;

  private constructor(isServerless: boolean, provisionedOptions?: ProvisionedBusOptions, serverlessOptions?: ServerlessBusOptions) {
    this.isServerless = isServerless;
    this.provisionedOptions = provisionedOptions;
    this.serverlessOptions = serverlessOptions;
  }
}
