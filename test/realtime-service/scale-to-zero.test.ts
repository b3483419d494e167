import { Duration } from 'aws-cdk-lib';
import { nagFindings } from '../../examples/shared/nag';
import { RealtimeFargateService } from '../../src';
import { MetricRef, simulate } from '../support/cloudwatch-sim';
import { stackWithVpc, template, testImage } from '../support/stacks';

/**
 * Scale to zero is checked by replaying the synthesized alarms and step-scaling policies in a simulator of
 * CloudWatch and Application Auto Scaling (test/support/cloudwatch-sim.ts, each rule from AWS's docs),
 * against a small model of the load balancer and the tasks built from the documented behaviour:
 * - "Elastic Load Balancing reports metrics to CloudWatch only when requests are flowing"; RequestCount "is
 *   only incremented for requests where the load balancer node was able to choose a target";
 *   HTTPCode_ELB_503_Count is reported when nonzero
 *   (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html).
 * - With no registered target the load balancer answers 503 itself
 *   (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-troubleshooting.html#http-503-issues).
 * - A task started at minute t is registered and reports its connections from minute t + TASK_START_MINUTES.
 */
const TASK_START_MINUTES = 2;

interface Traffic {
  /** Requests arriving in a minute. */
  readonly requests?: (minute: number) => number;
  /** Open WebSocket connections in a minute (held by the tasks when any run). */
  readonly connections?: (minute: number) => number;
  /** Whether the image writes the ActiveConnections metric line. */
  readonly reportsConnections?: boolean;
}

function service(props: { idleMinutes?: number; wakeCapacity?: number } = {}) {
  const { stack, vpc } = stackWithVpc();
  const svc = new RealtimeFargateService(stack, 'Service', {
    vpc,
    image: testImage,
    insecureHttp: true,
    scaling: { minCapacity: 0 },
    scaleToZero: {
      idlePeriod: props.idleMinutes ? Duration.minutes(props.idleMinutes) : undefined,
      wakeCapacity: props.wakeCapacity,
    },
  });
  return { stack, svc, template: template(stack).toJSON() };
}

/** Runs the world for `minutes` and returns the desired task count during each minute. */
function run(tpl: any, minutes: number, initialCapacity: number, traffic: Traffic, fillEmptySeries = false): number[] {
  const records = simulate({
    template: tpl,
    minutes,
    initialCapacity,
    fillEmptySeries,
    datapoint: (metric: MetricRef, minute: number, history: readonly number[]) => {
      // Tasks run when the count has been above 0 for TASK_START_MINUTES (those of minute 0 already run).
      const window = history.slice(Math.max(0, minute - TASK_START_MINUTES), minute + 1);
      const running = Math.min(...window, ...(minute < TASK_START_MINUTES ? [history[0]] : []));
      const requests = traffic.requests?.(minute) ?? 0;
      switch (metric.metricName) {
        case 'RequestCount': return running > 0 && requests > 0 ? requests : undefined;
        case 'HTTPCode_ELB_503_Count': return running === 0 && requests > 0 ? requests : undefined;
        case 'ActiveConnections': return running > 0 && (traffic.reportsConnections ?? true) ? traffic.connections?.(minute) ?? 0 : undefined;
        case 'HealthyHostCount': return running > 0 ? running : undefined;
        default: return undefined;
      }
    },
  });
  return records.map(r => r.desiredAfter);
}

describe('scale to zero, simulated from AWS\'s documented alarm, metric and scaling behaviour', () => {
  const { stack, svc, template: tpl } = service();

  test('one request at 0 tasks raises the count to the wake capacity', () => {
    const desired = run(tpl, 10, 0, { requests: m => (m === 3 ? 1 : 0) });
    expect(desired.slice(0, 3)).toEqual([0, 0, 0]);
    expect(desired[3]).toBe(1);
    expect(desired.slice(4)).toEqual([1, 1, 1, 1, 1, 1]);
  });

  test('open connections keep the service up, with no requests at all', () => {
    const desired = run(tpl, 90, 1, { connections: () => 3 });
    expect(Math.min(...desired)).toBe(1);
  });

  test('15 idle minutes bring it down, not fewer', () => {
    const desired = run(tpl, 30, 1, { connections: () => 0 });
    const firstZero = desired.indexOf(0);
    // The task already runs at minute 0 and reports 0 connections every minute: minutes 0-14 are the 15 idle
    // minutes, and the count is 0 from minute 15 (desired[14] is the count after minute 14's evaluation).
    expect(firstZero).toBe(14);
    expect(desired.slice(firstZero)).toEqual(new Array(desired.length - firstZero).fill(0));
  });

  test('a request in the idle period starts the count again', () => {
    const desired = run(tpl, 40, 1, { connections: () => 0, requests: m => (m === 10 ? 4 : 0) });
    expect(desired.indexOf(0)).toBe(10 + 15);
  });

  test.each([false, true])('missing connection data never counts as idle (FILL of an empty series filled: %s)', fillEmptySeries => {
    // An image that does not write ActiveConnections, with users connected and no new requests.
    const desired = run(tpl, 120, 1, { reportsConnections: false }, fillEmptySeries);
    expect(Math.min(...desired)).toBe(1);
  });

  test('a whole day: wakes on demand, serves, idles down, wakes again', () => {
    const busy = (m: number) => (m >= 5 && m < 40) || (m >= 100 && m < 110);
    const desired = run(tpl, 160, 0, { requests: m => (busy(m) ? 20 : 0), connections: m => (busy(m) ? 7 : 0) });
    expect(desired[4]).toBe(0);
    expect(desired[5]).toBe(1);
    expect(desired.slice(5, 40).every(d => d >= 1)).toBe(true);
    expect(desired[39 + 15]).toBe(0);
    expect(desired[100]).toBe(1);
    expect(desired[159]).toBe(0);
  });

  test('the wake capacity and idle period are honoured', () => {
    const custom = service({ idleMinutes: 20, wakeCapacity: 3 }).template;
    const desired = run(custom, 40, 0, { requests: m => (m === 1 ? 1 : 0), connections: () => 0 });
    expect(desired[1]).toBe(3);
    expect(desired.indexOf(0, 2)).toBe(1 + TASK_START_MINUTES + 20);
  });

  test('the alarms are exposed, and the target-tracking policies stay', () => {
    expect(svc.idleAlarm).toBeDefined();
    expect(svc.wakeAlarm).toBeDefined();
    const policies = Object.values(tpl.Resources).filter((r: any) => r.Type === 'AWS::ApplicationAutoScaling::ScalingPolicy');
    expect(policies.filter((p: any) => p.Properties.PolicyType === 'TargetTrackingScaling')).toHaveLength(3);
    expect(nagFindings(stack)).toEqual([]);
  });

  test('without minCapacity 0 there are no scale-to-zero alarms', () => {
    const { stack: other, vpc } = stackWithVpc();
    const plain = new RealtimeFargateService(other, 'Service', { vpc, image: testImage, insecureHttp: true });
    expect(plain.idleAlarm).toBeUndefined();
    expect(Object.values(template(other).toJSON().Resources).filter((r: any) => r.Type === 'AWS::CloudWatch::Alarm')).toEqual([]);
  });
});
