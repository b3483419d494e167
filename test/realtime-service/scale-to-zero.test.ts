import { Duration } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { nagFindings } from '../../examples/shared/nag';
import { RealtimeFargateService } from '../../src';
import { stackWithVpc, template, testImage } from '../support/stacks';

describe('scaleToZero', () => {
  const { stack, vpc } = stackWithVpc();
  const svc = new RealtimeFargateService(stack, 'Service', {
    vpc,
    image: testImage,
    insecureHttp: true,
    scaleToZero: { idlePeriod: Duration.minutes(20), wakeCapacity: 2 },
  });
  const t = template(stack);

  test('lowers the minimum to 0 and starts at the wake capacity', () => {
    t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 0, MaxCapacity: 10 });
    t.hasResourceProperties('AWS::ECS::Service', { DesiredCount: 2 });
  });

  test('scales to exactly 0 after the idle period without connections or requests', () => {
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      ComparisonOperator: 'LessThanOrEqualToThreshold',
      Threshold: 0,
      EvaluationPeriods: 20,
      DatapointsToAlarm: 20,
      TreatMissingData: 'breaching',
      Metrics: Match.arrayWith([
        Match.objectLike({ Expression: 'FILL(connections, 0) + FILL(requests, 0)' }),
        Match.objectLike({
          Id: 'connections',
          MetricStat: Match.objectLike({
            Metric: { Namespace: 'CdkRealtime', MetricName: 'ActiveConnections', Dimensions: [{ Name: 'Service', Value: svc.metricsServiceName }] },
            Stat: 'Sum',
          }),
        }),
        Match.objectLike({ Id: 'requests', MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: 'RequestCount' }), Stat: 'Sum' }) }),
      ]),
      AlarmActions: [{ Ref: Match.stringLikeRegexp('ScaleToZero') }],
    });
    t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      PolicyType: 'StepScaling',
      StepScalingPolicyConfiguration: {
        AdjustmentType: 'ExactCapacity',
        Cooldown: 60,
        MetricAggregationType: 'Maximum',
        StepAdjustments: [{ MetricIntervalUpperBound: 0, ScalingAdjustment: 0 }],
      },
    });
  });

  test('wakes to the wake capacity when requests arrive and no task is healthy', () => {
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Threshold: 1,
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
      Metrics: Match.arrayWith([
        Match.objectLike({ Expression: 'IF(FILL(healthy, 0) == 0, FILL(requests, 0), 0)' }),
        Match.objectLike({ Id: 'healthy', MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: 'HealthyHostCount' }), Stat: 'Maximum' }) }),
      ]),
    });
    t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      PolicyType: 'StepScaling',
      StepScalingPolicyConfiguration: Match.objectLike({
        AdjustmentType: 'ExactCapacity',
        StepAdjustments: [{ MetricIntervalLowerBound: 0, ScalingAdjustment: 2 }],
      }),
    });
  });

  test('keeps the target-tracking policies', () => {
    const policies = t.findResources('AWS::ApplicationAutoScaling::ScalingPolicy', { Properties: { PolicyType: 'TargetTrackingScaling' } });
    expect(Object.keys(policies)).toHaveLength(3);
    expect(nagFindings(stack)).toEqual([]);
  });

  test('defaults to a 15-minute idle period and one task on wake', () => {
    const other = stackWithVpc();
    new RealtimeFargateService(other.stack, 'Service', { vpc: other.vpc, image: testImage, insecureHttp: true, scaleToZero: {} });
    const t2 = template(other.stack);
    t2.hasResourceProperties('AWS::CloudWatch::Alarm', { EvaluationPeriods: 15, Threshold: 0 });
    t2.hasResourceProperties('AWS::ECS::Service', { DesiredCount: 1 });
    t2.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      StepScalingPolicyConfiguration: Match.objectLike({ StepAdjustments: [{ MetricIntervalLowerBound: 0, ScalingAdjustment: 1 }] }),
    });
  });
});
