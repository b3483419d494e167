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
  /** Open connections summed over all tasks. */
  readonly connections: cloudwatch.IMetric;
  /** Requests the load balancer received. */
  readonly requests: cloudwatch.IMetric;
  /** Healthy targets behind the load balancer. */
  readonly healthyTasks: cloudwatch.IMetric;
}

/**
 * Two step-scaling policies beside the target-tracking ones: one sets the task count to 0 after an idle
 * period, one sets it to the wake capacity when requests arrive and no task is healthy.
 *
 * Target tracking alone never reaches zero: with several policies Application Auto Scaling scales in
 * only as far as the policy that wants most tasks, and CPU utilization of a running task is never 0.
 */
export class ScaleToZero extends Construct {
  /** Alarm in state ALARM while the service is idle. */
  public readonly idleAlarm: cloudwatch.Alarm;
  /** Alarm in state ALARM while requests arrive and no task is healthy. */
  public readonly wakeAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: ScaleToZeroProps) {
    super(scope, id);
    // ScalableTaskCount keeps its ScalableTarget as the child 'Target'; step actions need the target itself.
    const target = props.taskCount.node.findChild('Target') as appscaling.IScalableTarget;
    const minute = Duration.minutes(1);

    const activity = new cloudwatch.MathExpression({
      label: 'Open connections plus requests',
      expression: 'FILL(connections, 0) + FILL(requests, 0)',
      usingMetrics: { connections: props.connections, requests: props.requests },
      period: minute,
    });
    this.idleAlarm = new cloudwatch.Alarm(this, 'IdleAlarm', {
      alarmDescription: `No connections and no requests for ${props.idlePeriod.toMinutes()} minutes: scale to zero`,
      metric: activity,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD,
      threshold: 0,
      evaluationPeriods: props.idlePeriod.toMinutes(),
      datapointsToAlarm: props.idlePeriod.toMinutes(),
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
    this.exactCapacityOn(this.idleAlarm, target, 'ScaleToZero', 0, 'below');

    const wanted = new cloudwatch.MathExpression({
      label: 'Requests while no task is healthy',
      expression: 'IF(FILL(healthy, 0) == 0, FILL(requests, 0), 0)',
      usingMetrics: { healthy: props.healthyTasks, requests: props.requests },
      period: minute,
    });
    this.wakeAlarm = new cloudwatch.Alarm(this, 'WakeAlarm', {
      alarmDescription: `Requests while no task is healthy: start ${props.wakeCapacity} task(s)`,
      metric: wanted,
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
