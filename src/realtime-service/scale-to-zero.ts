import { Duration } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { Construct } from 'constructs';

/** What the scale-to-zero policies watch and change. */
export interface ScaleToZeroProps {
  readonly taskCount: ecs.ScalableTaskCount;
  readonly idlePeriod: Duration;
  readonly wakeCapacity: number;
  /** The most connections any task held, from the tasks' own `ActiveConnections` lines. */
  readonly connections: cloudwatch.IMetric;
  /** Requests the load balancer passed to a task. */
  readonly requests: cloudwatch.IMetric;
  /** Requests the load balancer refused itself with 503 because no task was registered. */
  readonly refusals: cloudwatch.IMetric;
}

/**
 * Two step-scaling policies beside the target-tracking ones: one sets the task count to 0 after an idle
 * period, one sets it to the wake capacity when the load balancer turns requests away for want of a task.
 *
 * Target tracking alone never reaches zero: with several policies Application Auto Scaling scales in
 * only as far as the policy that wants most tasks, and CPU utilization of a running task is never 0.
 *
 * Waking reads `HTTPCode_ELB_503_Count`, not `RequestCount`: the load balancer counts a request in
 * `RequestCount` only when it could choose a target, so with no task that metric stays empty, while the
 * 503 it answers itself is counted
 * (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html).
 *
 * Idling needs connection data: a minute in which no task reported `ActiveConnections` is missing data,
 * and missing data never counts as idle, so an image that does not write the metric is never scaled to
 * zero under its users.
 */
export class ScaleToZero extends Construct {
  /** Alarm in state ALARM while the service is idle. */
  public readonly idleAlarm: cloudwatch.Alarm;
  /** Alarm in state ALARM while the load balancer refuses requests for want of a task. */
  public readonly wakeAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: ScaleToZeroProps) {
    super(scope, id);
    // ScalableTaskCount keeps its ScalableTarget as the child 'Target'; step actions need the target itself.
    const target = props.taskCount.node.findChild('Target') as appscaling.IScalableTarget;
    const minutes = props.idlePeriod.toMinutes();

    // Metric math adds two series wherever either has a value, counting the other's missing value as 0
    // (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html). So a minute has
    // a value when a task reported its connections or the load balancer saw a request, and that value is 0
    // only when tasks reported no connection and no request came; a minute with neither report stays
    // missing, which the alarm treats as not idle. No FILL: an idle load balancer reports nothing at all.
    const activity = new cloudwatch.MathExpression({
      label: 'Open connections plus requests',
      expression: 'connections + requests + refusals',
      usingMetrics: { connections: props.connections, requests: props.requests, refusals: props.refusals },
      period: Duration.minutes(1),
    });
    this.idleAlarm = new cloudwatch.Alarm(this, 'IdleAlarm', {
      alarmDescription: `Tasks reported no open connection and no request arrived for ${minutes} minutes: scale to zero`,
      metric: activity,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD,
      threshold: 0,
      evaluationPeriods: minutes,
      datapointsToAlarm: minutes,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.exactCapacityOn(this.idleAlarm, target, 'ScaleToZero', 0, 'below');

    this.wakeAlarm = new cloudwatch.Alarm(this, 'WakeAlarm', {
      alarmDescription: `The load balancer answered 503 for want of a task: start ${props.wakeCapacity} task(s)`,
      metric: props.refusals,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      threshold: 1,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.exactCapacityOn(this.wakeAlarm, target, 'Wake', props.wakeCapacity, 'above');
  }

  private exactCapacityOn(alarm: cloudwatch.Alarm, target: appscaling.IScalableTarget, id: string, capacity: number, breach: 'below' | 'above'): void {
    const action = new appscaling.StepScalingAction(this, id, {
      scalingTarget: target,
      adjustmentType: appscaling.AdjustmentType.EXACT_CAPACITY,
      metricAggregationType: appscaling.MetricAggregationType.MAXIMUM,
      cooldown: Duration.minutes(1),
    });
    // The alarm decides when; one open-ended step (bounds are relative to the alarm threshold) sets the count.
    action.addAdjustment(breach === 'below' ? { adjustment: capacity, upperBound: 0 } : { adjustment: capacity, lowerBound: 0 });
    alarm.addAlarmAction(new cloudwatchActions.ApplicationScalingAction(action));
  }
}
