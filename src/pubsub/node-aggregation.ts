import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';

/**
 * How a provisioned bus combines a metric of its nodes into one series (a CloudWatch metric-math function
 * over the nodes' metrics). A serverless cache reports one value and ignores it.
 */
export class NodeAggregation {
  /** The sum over nodes, e.g. connections or bytes sent. */
  public static readonly SUM = new NodeAggregation('SUM');
  /** The busiest node, e.g. engine CPU or memory. */
  public static readonly MAX = new NodeAggregation('MAX');
  /** The least busy node. */
  public static readonly MIN = new NodeAggregation('MIN');
  /** The average over nodes. */
  public static readonly AVG = new NodeAggregation('AVG');

  /** The metric-math function that combines the nodes' series. */
  public readonly mathFunction: string;

  private constructor(mathFunction: string) {
    this.mathFunction = mathFunction;
  }
}

/**
 * Options of a RedisPubSubBus metric: the options of any CloudWatch metric, plus how a provisioned bus
 * combines its nodes.
 */
export interface BusMetricOptions extends cloudwatch.MetricOptions {
  /**
   * How the nodes of a provisioned bus are combined into one series. A serverless cache reports one
   * series and ignores this.
   *
   * @default NodeAggregation.MAX
   */
  readonly aggregation?: NodeAggregation;
}
