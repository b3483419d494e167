import {
  AlarmState, Datapoint, evaluateAlarm, evaluateExpression, MetricRef, resolveIntrinsic, Series, simulate, SimulateOptions,
} from './cloudwatch-sim';

// Hand-made templates: one ScalableTarget 'Target', alarms on metric 'Namespace'/'M' unless said otherwise.
const target = (min: number, max: number) => ({ Type: 'AWS::ApplicationAutoScaling::ScalableTarget', Properties: { MinCapacity: min, MaxCapacity: max } });
const alarm = (props: Record<string, unknown>) => ({
  Type: 'AWS::CloudWatch::Alarm',
  Properties: {
    Namespace: 'Test',
    MetricName: 'M',
    Statistic: 'Sum',
    Period: 60,
    EvaluationPeriods: 1,
    ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    Threshold: 1,
    ...props,
  },
});
const stepPolicy = (config: Record<string, unknown>) => ({
  Type: 'AWS::ApplicationAutoScaling::ScalingPolicy',
  Properties: {
    PolicyType: 'StepScaling',
    ScalingTargetId: { Ref: 'Target' },
    // +1 above the threshold, no cooldown, unless `config` says otherwise.
    StepScalingPolicyConfiguration: { AdjustmentType: 'ChangeInCapacity', Cooldown: 0, StepAdjustments: [{ MetricIntervalLowerBound: 0, ScalingAdjustment: 1 }], ...config },
  },
});
/** A step of `adjustment` for breach values between `lower` and `upper`, relative to the threshold (undefined: unbounded). */
const step = (adjustment: number, lower?: number, upper?: number) =>
  ({ MetricIntervalLowerBound: lower, MetricIntervalUpperBound: upper, ScalingAdjustment: adjustment });
const exactPolicy = (steps: object[], more: Record<string, unknown> = {}) => stepPolicy({ AdjustmentType: 'ExactCapacity', StepAdjustments: steps, ...more });
const trackingPolicy = { Type: 'AWS::ApplicationAutoScaling::ScalingPolicy', Properties: { PolicyType: 'TargetTrackingScaling', ScalingTargetId: { Ref: 'Target' } } };
/** An alarm on `Metrics` (a list of MetricDataQuery) instead of a single metric. */
const metricsAlarm = (metrics: object[], props: Record<string, unknown>) =>
  alarm({ Namespace: undefined, MetricName: undefined, Statistic: undefined, Period: undefined, Metrics: metrics, ...props });
const metricStat = (id: string, name: string, stat = 'Sum', namespace = 'Test') =>
  ({ Id: id, ReturnData: false, MetricStat: { Metric: { Namespace: namespace, MetricName: name }, Period: 60, Stat: stat } });
type Values = Record<string, (minute: number, history: readonly number[]) => Datapoint>;
/** Datapoints by metric name. */
const byName = (values: Values) => (m: MetricRef, minute: number, history: readonly number[]) => values[m.metricName]?.(minute, history);
const run = (resources: Record<string, unknown>, values: Values, more: Partial<SimulateOptions> = {}) =>
  simulate({ template: { Resources: { Target: target(0, 10), ...resources } }, minutes: 6, initialCapacity: 1, datapoint: byName(values), ...more });
const desiredAfter = (records: { desiredAfter: number }[]) => records.map(r => r.desiredAfter);
const states = (records: { alarms: Record<string, { state: AlarmState }> }[], id: string) => records.map(r => r.alarms[id].state);
/** '0 - X' → [0, missing, 5]: 0 does not breach and 5 breaches a >= 1 alarm. */
const pts = (s: string): Series => s.split(' ').map(c => (c === '-' ? undefined : c === 'X' ? 5 : 0));
const ts = (s: string): Series => s.split(',').map(c => (c.trim() === '-' ? undefined : Number(c)));

describe('metric math', () => {
  const calc = (expr: string, series: Record<string, string> = {}, fillEmptySeries?: boolean) =>
    evaluateExpression(expr, Object.fromEntries(Object.entries(series).map(([k, v]) => [k, ts(v)])), { fillEmptySeries });

  test('arithmetic between series keeps every timestamp of either, counting a missing operand as 0', () => {
    expect(calc('m1 + m2', { m1: '1, -, 3, -', m2: '10, 20, -, -' })).toEqual(ts('11, 20, 3, -'));
    expect(calc('m1 - m2', { m1: '1, -, 3, -', m2: '10, 20, -, -' })).toEqual(ts('-9, -20, 3, -'));
    expect(calc('2 * m1', { m1: '1, -, 3, -' })).toEqual(ts('2, -, 6, -'));
  });

  test('dividing by zero drops the datapoint', () => {
    expect(calc('m1 / m2', { m1: '6, 6, 6', m2: '3, 0, -' })).toEqual(ts('2, -, -'));
  });

  test('comparisons and logical operators give 0/1, as in the docs example', () => {
    const series = { metric1: '30, 20, 0, 0', metric2: '20, -, 20, -' };
    expect(calc('(metric1 < metric2)', series)).toEqual(ts('0, 0, 1, 0'));
    expect(calc('(metric1 >= 30)', series)).toEqual(ts('1, 0, 0, 0'));
    expect(calc('(metric1 > 15 AND metric2 > 15)', series)).toEqual(ts('1, 0, 0, 0'));
    expect(calc('metric1 > 25 || metric2 == 20', series)).toEqual(ts('1, 0, 1, 0'));
    expect(calc('metric1 != 0 && metric1 <= 20', series)).toEqual(ts('0, 1, 0, 0'));
  });

  test('precedence: * over +, arithmetic over comparison, comparison over AND over OR; parentheses and unary minus', () => {
    expect(calc('1 + 2 * 3')).toBe(7);
    expect(calc('(1 + 2) * 3')).toBe(9);
    expect(calc('-2 + 2 ^ 3')).toBe(6);
    expect(calc('2 * 3 ^ 2')).toBe(18);
    expect(calc('2 + 1 == 3')).toBe(1);
    expect(calc('1 OR 1 AND 0')).toBe(1);
  });

  test('FILL fills the gaps of a series with a value or with another series', () => {
    expect(calc('FILL(m1, 0)', { m1: '-, 2, -' })).toEqual(ts('0, 2, 0'));
    expect(calc('FILL(m1, m2)', { m1: '-, 2, -', m2: '7, 8, -' })).toEqual(ts('7, 2, -'));
    expect(calc('FILL(m1, 0) + FILL(m2, 0)', { m1: '1, -, -', m2: '-, -, 5' })).toEqual(ts('1, 0, 5'));
  });

  test('FILL leaves a metric without any datapoint in the range empty, unless told otherwise', () => {
    expect(calc('FILL(m1, 0)', { m1: '-, -, -' })).toEqual(ts('-, -, -'));
    expect(calc('FILL(m1, 0) + FILL(m2, 0)', { m1: '-, -, -', m2: '-, 3, -' })).toEqual(ts('0, 3, 0'));
    expect(calc('FILL(m1, 0)', { m1: '-, -, -' }, true)).toEqual(ts('0, 0, 0'));
  });

  test('IF follows the three tables of the docs', () => {
    const series = { metric1: '1, 1, 0, 0, -', metric2: '30, -, 0, 0, 30', metric3: '0, 0, 20, -, 20' };
    expect(calc('IF(metric1, metric2, metric3)', series)).toEqual(ts('30, 0, 20, -, -'));
    expect(calc('IF(metric1, 5, metric3)', series)).toEqual(ts('5, 5, 20, -, -'));
    expect(calc('IF(metric1, metric2, 5)', series)).toEqual(ts('30, 0, 5, 5, -'));
  });

  test('IF without a false branch drops the false points; a scalar condition picks a whole series', () => {
    expect(calc('IF(m1 < 400, m1)', { m1: '100, 500, -' })).toEqual(ts('100, -, -'));
    expect(calc('IF(1, m1, m2)', { m1: '1, -', m2: '2, 2' })).toEqual(ts('1, -'));
    expect(calc('IF(0, m1)', { m1: '1, 2' })).toEqual(ts('-, -'));
  });

  test('the wake expression: requests count only while no task is healthy, missing health counting as none', () => {
    const wake = 'IF(FILL(healthy, 0) == 0, FILL(requests, 0), 0)';
    expect(calc(wake, { healthy: '-, 0, 1, -', requests: '4, -, 4, -' })).toEqual(ts('4, 0, 0, 0'));
  });

  test('MAX/MIN/SUM/AVG of an array work per timestamp, missing values counting as 0', () => {
    const series = { m1: '1, -, 5, -', m2: '3, 4, -, -' };
    expect(calc('MAX([m1, m2])', series)).toEqual(ts('3, 4, 5, -'));
    expect(calc('MIN([m1, m2])', series)).toEqual(ts('1, 0, 0, -'));
    expect(calc('SUM([m1, m2])', series)).toEqual(ts('4, 4, 5, -'));
    expect(calc('AVG([m1, m2])', series)).toEqual(ts('2, 2, 2.5, -'));
    expect(calc('SUM([m1, m2]) * 2', series)).toEqual(ts('8, 8, 10, -'));
  });

  test('rejects what it does not simulate instead of guessing', () => {
    expect(() => calc('MAX(m1)', { m1: '1' })).toThrow(/single series/);
    expect(() => calc('FILL(m1, REPEAT)', { m1: '1' })).toThrow(/REPEAT/);
    expect(() => calc('fill(m1, 0)', { m1: '1' })).toThrow(/unknown id 'fill'/);
    expect(() => calc('(m1 + 1', { m1: '1' })).toThrow(/expected '\)'/);
    expect(() => calc('m1 m1', { m1: '1' })).toThrow(/unexpected 'm1'/);
  });
});

describe('alarm evaluation with missing data (the tables of "How alarm state is evaluated when data is missing")', () => {
  const treatments = ['missing', 'ignore', 'breaching', 'notBreaching'] as const;
  const RETAIN = 'retain';
  const check = (m: number, row: string, expected: (AlarmState | typeof RETAIN)[]) => {
    treatments.forEach((treat, i) => {
      for (const current of ['OK', 'ALARM'] as const) {
        const rule = { EvaluationPeriods: 3, DatapointsToAlarm: m, ComparisonOperator: 'GreaterThanOrEqualToThreshold', Threshold: 1, TreatMissingData: treat };
        const want = expected[i] === RETAIN ? current : expected[i];
        expect([row, treat, current, evaluateAlarm(pts(row), rule, current).state]).toEqual([row, treat, current, want]);
      }
    });
  };

  test.each([
    ['0 - X - X', ['OK', 'OK', 'OK', 'OK']],
    ['0 - - - -', ['OK', 'OK', 'OK', 'OK']],
    ['- - - - -', ['INSUFFICIENT_DATA', RETAIN, 'ALARM', 'OK']],
    ['0 X X - X', ['ALARM', 'ALARM', 'ALARM', 'ALARM']],
    ['- - X - -', ['ALARM', RETAIN, 'ALARM', 'OK']],
    // Rows of the earlier revision of the same table:
    ['- - - - X', ['INSUFFICIENT_DATA', RETAIN, 'ALARM', 'OK']],
    ['X - - - -', ['ALARM', RETAIN, 'ALARM', 'OK']],
  ] as const)('3 of 3: %s', (row, expected) => check(3, row, [...expected]));

  test.each([
    ['0 - X - X', ['ALARM', 'ALARM', 'ALARM', 'ALARM']],
    ['0 0 X 0 X', ['ALARM', 'ALARM', 'ALARM', 'ALARM']],
    ['0 - X - -', ['OK', 'OK', 'ALARM', 'OK']],
    ['- - - - 0', ['OK', 'OK', 'ALARM', 'OK']],
    ['- - - X -', ['ALARM', RETAIN, 'ALARM', 'OK']],
  ] as const)('2 of 3: %s', (row, expected) => check(2, row, [...expected]));

  test('defaults: DatapointsToAlarm is EvaluationPeriods and TreatMissingData is missing', () => {
    const rule = { EvaluationPeriods: 3, ComparisonOperator: 'GreaterThanOrEqualToThreshold', Threshold: 1 };
    expect(evaluateAlarm(pts('0 0 X 0 X'), rule, 'OK').state).toBe('OK');
    expect(evaluateAlarm(pts('0 X X 0 X'), rule, 'OK').state).toBe('OK');
    expect(evaluateAlarm(pts('0 X X X X'), rule, 'OK').state).toBe('ALARM');
    expect(evaluateAlarm(pts('- - - - -'), rule, 'OK').state).toBe('INSUFFICIENT_DATA');
  });

  test('each comparison operator, at and around the threshold', () => {
    const at = (op: string, v: number) => evaluateAlarm([v], { EvaluationPeriods: 1, ComparisonOperator: op, Threshold: 1 }, 'OK').state;
    expect([0, 1, 2].map(v => at('GreaterThanOrEqualToThreshold', v))).toEqual(['OK', 'ALARM', 'ALARM']);
    expect([0, 1, 2].map(v => at('GreaterThanThreshold', v))).toEqual(['OK', 'OK', 'ALARM']);
    expect([0, 1, 2].map(v => at('LessThanThreshold', v))).toEqual(['ALARM', 'OK', 'OK']);
    expect([0, 1, 2].map(v => at('LessThanOrEqualToThreshold', v))).toEqual(['ALARM', 'ALARM', 'OK']);
  });
});

describe('alarms in a template', () => {
  test('resolves intrinsics in dimensions to plain strings', () => {
    expect(resolveIntrinsic({ Ref: 'Cluster' })).toBe('Cluster');
    expect(resolveIntrinsic({ 'Fn::GetAtt': ['Lb', 'LoadBalancerFullName'] })).toBe('Lb.LoadBalancerFullName');
    expect(resolveIntrinsic({ 'Fn::Join': ['/', ['service', { Ref: 'Cluster' }, { 'Fn::GetAtt': ['Svc', 'Name'] }]] })).toBe('service/Cluster/Svc.Name');
    expect(resolveIntrinsic({ 'Fn::Select': [1, { 'Fn::Split': ['/', 'app/my-lb/123'] }] })).toBe('my-lb');
    expect(resolveIntrinsic({ 'Fn::Select': [1, { 'Fn::Split': ['/', { Ref: 'Listener' }] }] })).toBe('Listener[1]');
    expect(resolveIntrinsic({ 'Fn::Sub': '${AWS::StackName}-x' })).toBe('AWS::StackName-x');
  });

  test('the datapoint callback sees the metric of a single-metric alarm with resolved dimensions', () => {
    const seen: MetricRef[] = [];
    simulate({
      template: { Resources: { Target: target(0, 1), A: alarm({ Dimensions: [{ Name: 'LoadBalancer', Value: { 'Fn::GetAtt': ['Lb', 'FullName'] } }], Statistic: 'Maximum' }) } },
      minutes: 1,
      initialCapacity: 0,
      datapoint: m => { seen.push(m); return undefined; },
    });
    expect(seen).toEqual([{ namespace: 'Test', metricName: 'M', dimensions: { LoadBalancer: 'Lb.FullName' }, stat: 'Maximum' }]);
  });

  test('starts in INSUFFICIENT_DATA and changes once data decides', () => {
    const r = run({ A: alarm({}) }, { M: m => (m < 2 ? undefined : m === 2 ? 0 : 5) });
    expect(states(r, 'A').slice(0, 4)).toEqual(['INSUFFICIENT_DATA', 'INSUFFICIENT_DATA', 'OK', 'ALARM']);
  });

  test('a 5-minute period is a window that slides every minute', () => {
    const r = run({ A: alarm({ Period: 300, Threshold: 4 }) }, { M: () => 1 }, { minutes: 7 });
    expect(r.map(x => x.alarms.A.value)).toEqual([1, 2, 3, 4, 5, 5, 5]);
    expect(states(r, 'A')).toEqual(['OK', 'OK', 'OK', 'ALARM', 'ALARM', 'ALARM', 'ALARM']);
  });

  test('M of N counts breaching datapoints that are not consecutive', () => {
    const r = run({ A: alarm({ EvaluationPeriods: 3, DatapointsToAlarm: 2 }) }, { M: m => [0, 5, 0, 5, 0, 0][m] });
    expect(states(r, 'A')).toEqual(['OK', 'OK', 'OK', 'ALARM', 'OK', 'OK']);
  });

  test('after data stops, the older real datapoints of the evaluation range still decide', () => {
    // 2 of 2, range 4: breaching at minutes 0-1, then nothing; notBreaching only fills once fewer than 2 real points remain.
    const r = run({ A: alarm({ EvaluationPeriods: 2, TreatMissingData: 'notBreaching' }) }, { M: m => (m < 2 ? 5 : undefined) });
    expect(states(r, 'A')).toEqual(['OK', 'ALARM', 'ALARM', 'ALARM', 'OK', 'OK']);
  });

  test('an alarm on Metrics evaluates the ReturnData expression over its MetricStat ids', () => {
    const mathAlarm = metricsAlarm([{ Id: 'e', Expression: 'FILL(a, 0) + FILL(b, 0)', ReturnData: true }, metricStat('a', 'A'), metricStat('b', 'B')],
      { ComparisonOperator: 'LessThanOrEqualToThreshold', Threshold: 0, EvaluationPeriods: 2, TreatMissingData: 'breaching' });
    const r = run({ I: mathAlarm }, { A: m => (m === 1 ? 2 : m === 3 ? 0 : undefined), B: m => (m === 2 ? 1 : undefined) });
    expect(r.map(x => x.alarms.I.value)).toEqual([undefined, 2, 1, 0, 0, 0]);
    expect(states(r, 'I')).toEqual(['ALARM', 'OK', 'OK', 'OK', 'ALARM', 'ALARM']);
  });
});

describe('alarm actions', () => {
  const sns = { Ref: 'Topic' };
  test('Auto Scaling actions repeat every minute in the state; other actions run only on a change', () => {
    const r = run({ A: alarm({ AlarmActions: [{ Ref: 'Up' }, sns], OKActions: [sns] }), Up: stepPolicy({}) }, { M: m => (m < 3 ? 5 : 0) });
    expect(desiredAfter(r)).toEqual([2, 3, 4, 4, 4, 4]);
    expect(r.map(x => x.notified.length)).toEqual([1, 0, 0, 1, 0, 0]);
    expect(r[0].notified).toEqual([{ alarm: 'A', action: 'Topic' }]);
  });

  test('policies on OKActions and InsufficientDataActions run too, but not for the initial INSUFFICIENT_DATA', () => {
    const r = run({
      A: alarm({ OKActions: [{ Ref: 'Up' }], InsufficientDataActions: [{ Ref: 'Down' }] }),
      Up: exactPolicy([step(4, undefined, 0)]),
      Down: exactPolicy([step(2, undefined, 0), step(2, 0)]),
    },
    { M: m => (m === 2 ? 0 : undefined) });
    // The datapoint of minute 2 stays in the 3-period evaluation range until minute 4.
    expect(states(r, 'A')).toEqual(['INSUFFICIENT_DATA', 'INSUFFICIENT_DATA', 'OK', 'OK', 'OK', 'INSUFFICIENT_DATA']);
    expect(desiredAfter(r)).toEqual([1, 1, 4, 4, 4, 2]);
  });

  test('ActionsEnabled false invokes nothing', () => {
    const r = run({ A: alarm({ AlarmActions: [{ Ref: 'Up' }], ActionsEnabled: false }), Up: stepPolicy({}) }, { M: () => 5 });
    expect(desiredAfter(r)).toEqual([1, 1, 1, 1, 1, 1]);
  });

  test('actions of minute t apply from minute t+1, and the datapoint callback sees that history', () => {
    const r = run({ A: alarm({ AlarmActions: [{ Ref: 'Up' }] }), Up: stepPolicy({}) }, { M: (m, history) => (history[m] < 3 ? 5 : 0) });
    expect(r.map(x => x.desired)).toEqual([1, 2, 3, 3, 3, 3]);
    r.slice(1).forEach((x, i) => expect(x.desired).toBe(r[i].desiredAfter));
  });
});

describe('step scaling', () => {
  const upAlarm = (props: Record<string, unknown> = {}) => alarm({ AlarmActions: [{ Ref: 'Up' }], ...props });

  test('ExactCapacity keeps firing while in ALARM, and the scale-out cooldown holds back a repeat of the same scale-out', () => {
    // Wake sets 3 (cooldown 300 s); Down removes 1 every minute. Wake repeats only once its cooldown is over.
    const r = run({
      W: alarm({ AlarmActions: [{ Ref: 'Wake' }] }),
      D: alarm({ MetricName: 'D', AlarmActions: [{ Ref: 'Down' }] }),
      Wake: exactPolicy([step(3, 0)], { Cooldown: 300 }),
      Down: stepPolicy({ StepAdjustments: [step(-1, 0)] }),
    }, { M: () => 5, D: () => 5 }, { initialCapacity: 0, minutes: 8 });
    expect(desiredAfter(r)).toEqual([3, 2, 1, 0, 0, 3, 2, 1]);
    expect(r.map(x => x.fired.find(f => f.policy === 'Wake')?.outcome)).toEqual(
      ['scaled', 'unchanged', 'cooldown', 'cooldown', 'cooldown', 'scaled', 'unchanged', 'cooldown']);
  });

  test('during a scale-out cooldown only a larger scale-out adds capacity, counting what was already added', () => {
    // STEPS example: +2, then a more aggressive +3 during the cooldown adds only 1.
    const r = run({ A: upAlarm(), Up: stepPolicy({ Cooldown: 300, StepAdjustments: [step(2, 0, 10), step(3, 10)] }) },
      { M: m => [5, 5, 20, 20, 20, 5][m] }, { initialCapacity: 4 });
    expect(desiredAfter(r)).toEqual([6, 6, 7, 7, 7, 9]);
  });

  test('a scale-in during a scale-out cooldown is not undone by repeating the last scale-out', () => {
    // +2 then a larger +3 (to 7) during the cooldown; Down takes one task at minute 2; +3 repeats only after the cooldown.
    const r = run({
      A: upAlarm(),
      Up: stepPolicy({ Cooldown: 300, StepAdjustments: [step(2, 0, 10), step(3, 10)] }),
      D: alarm({ MetricName: 'D', AlarmActions: [{ Ref: 'Down' }] }),
      Down: stepPolicy({ StepAdjustments: [step(-1, 0)] }),
    }, { M: m => (m === 0 ? 5 : 20), D: m => (m === 2 ? 5 : 0) }, { initialCapacity: 4 });
    expect(desiredAfter(r)).toEqual([6, 7, 6, 6, 6, 9]);
  });

  test('scale-in cooldown blocks later scale-ins until it ends', () => {
    const r = run({ A: upAlarm(), Up: stepPolicy({ Cooldown: 180, StepAdjustments: [step(-1, 0)] }) },
      { M: () => 5 }, { initialCapacity: 6, minutes: 7 });
    expect(desiredAfter(r)).toEqual([5, 5, 5, 4, 4, 4, 3]);
    expect(r.map(x => x.fired[0].outcome)).toEqual(['scaled', 'cooldown', 'cooldown', 'scaled', 'cooldown', 'cooldown', 'scaled']);
  });

  test('a scale-out stops a running scale-in cooldown', () => {
    const resources = { A: upAlarm(), Up: exactPolicy([step(1, 0)], { Cooldown: 300 }), Tt: trackingPolicy };
    // Minute 0 scales in to 1 (cooldown until minute 5); minute 1 scales out to 4; minute 2 may scale in again.
    const r = run(resources, { M: () => 5 }, { initialCapacity: 4, targetTracking: (_, m) => (m === 1 ? 4 : undefined) });
    expect(desiredAfter(r).slice(0, 3)).toEqual([1, 4, 1]);
  });

  test('capacity is clamped to MinCapacity and MaxCapacity', () => {
    const up = run({ Target: target(1, 4), A: upAlarm(), Up: stepPolicy({ StepAdjustments: [step(5, 0)] }) },
      { M: () => 5 }, { initialCapacity: 2, minutes: 2 });
    expect(desiredAfter(up)).toEqual([4, 4]);
    const down = run({ Target: target(1, 4), A: upAlarm(), Up: exactPolicy([step(0, 0)]) },
      { M: () => 5 }, { initialCapacity: 3, minutes: 2 });
    expect(desiredAfter(down)).toEqual([1, 1]);
  });

  test('PercentChangeInCapacity follows the example of the step-scaling page, with its rounding', () => {
    // Threshold 50; scale out +10% at >= 60 and +30% at >= 70, scale in -10% at <= 40 and -30% at <= 30.
    const out = [step(0, 0, 10), step(10, 10, 20), step(30, 20)];
    const inn = [step(0, -10, 0), step(-10, -20, -10), step(-30, undefined, -20)];
    const r = run({
      Target: target(0, 100),
      H: alarm({ Statistic: 'Average', Threshold: 50, AlarmActions: [{ Ref: 'Out' }] }),
      L: alarm({ Statistic: 'Average', Threshold: 50, ComparisonOperator: 'LessThanOrEqualToThreshold', AlarmActions: [{ Ref: 'In' }] }),
      Out: stepPolicy({ AdjustmentType: 'PercentChangeInCapacity', StepAdjustments: out }),
      In: stepPolicy({ AdjustmentType: 'PercentChangeInCapacity', StepAdjustments: inn }),
    }, { M: m => [60, 70, 40, 30][m] }, { initialCapacity: 10, minutes: 4 });
    expect(desiredAfter(r)).toEqual([11, 14, 13, 10]);
  });

  test('PercentChangeInCapacity rounds (0, 1) up to 1 and honours MinAdjustmentMagnitude', () => {
    const pct = (percent: number, min?: number) => desiredAfter(run({
      A: upAlarm(),
      Up: stepPolicy({ AdjustmentType: 'PercentChangeInCapacity', MinAdjustmentMagnitude: min, StepAdjustments: [step(percent, 0)] }),
    }, { M: () => 5 }, { initialCapacity: 4, minutes: 1 }))[0];
    expect(pct(10)).toBe(5);
    expect(pct(-10)).toBe(3);
    expect(pct(25)).toBe(5);
    expect(pct(25, 2)).toBe(6);
  });

  test('the breach value is the evaluated datapoints aggregated by MetricAggregationType (Average by default)', () => {
    const up = (agg?: string) => exactPolicy([step(1, 0, 20), step(5, 20)], { MetricAggregationType: agg });
    const at = (agg?: string) => run({ A: upAlarm({ EvaluationPeriods: 2, Threshold: 0 }), Up: up(agg) }, { M: m => [5, 25][m] }, { minutes: 2 })
      .at(-1)!.fired[0];
    expect(at()).toMatchObject({ breachValue: 15, requested: 1 });
    expect(at('Maximum')).toMatchObject({ breachValue: 25, requested: 5 });
    expect(at('Minimum')).toMatchObject({ breachValue: 5, requested: 1 });
  });

  test('bounds: above the threshold the lower bound is inclusive, below it the upper bound is', () => {
    // The policy is both the ALARM and the OK action, so it sees values on both sides of the threshold.
    const exact = (value: number) => run({
      A: upAlarm({ Threshold: 50, ComparisonOperator: 'GreaterThanThreshold', OKActions: [{ Ref: 'Up' }] }),
      Up: exactPolicy([step(1, undefined, -10), step(2, -10, 10), step(3, 10)]),
    }, { M: () => value }, { minutes: 1 })[0].fired[0]?.requested;
    expect([60, 59, 51, 41, 40].map(exact)).toEqual([3, 2, 2, 2, 1]);
  });

  test('a breach value outside every step scales nothing', () => {
    const r = run({ A: upAlarm(), Up: stepPolicy({ StepAdjustments: [step(1, 10)] }) }, { M: () => 5 }, { minutes: 1 });
    expect(r[0].fired).toEqual([expect.objectContaining({ outcome: 'no step' })]);
    expect(r[0].desiredAfter).toBe(1);
  });

  test('ALARM from missing data acts as if the value sat on the threshold, unless told to skip', () => {
    const resources = {
      A: alarm({ ComparisonOperator: 'LessThanOrEqualToThreshold', Threshold: 0, TreatMissingData: 'breaching', AlarmActions: [{ Ref: 'Zero' }] }),
      Zero: exactPolicy([step(0, undefined, 0)]),
    };
    expect(desiredAfter(run(resources, {}, { minutes: 1 }))).toEqual([0]);
    expect(desiredAfter(run(resources, {}, { minutes: 1, breachValueWithoutData: 'skip' }))).toEqual([1]);
  });

  test('target-tracking policies are ignored without the hook; with it, the largest capacity asked for wins', () => {
    const resources = { A: upAlarm(), Up: exactPolicy([step(0, 0)]), Tt: trackingPolicy };
    expect(desiredAfter(run(resources, { M: () => 5 }, { initialCapacity: 2, minutes: 1 }))).toEqual([0]);
    const r = run(resources, { M: () => 5 }, { initialCapacity: 2, minutes: 1, targetTracking: () => 3 });
    expect(r[0].desiredAfter).toBe(3);
    expect(r[0].fired.map(f => [f.policy, f.outcome])).toEqual([['Tt', 'scaled'], ['Up', 'outranked']]);
  });
});

describe('a small world: wake on a request while no task is healthy', () => {
  const resources = {
    W: metricsAlarm([{ Id: 'e', Expression: 'IF(FILL(healthy, 0) == 0, FILL(requests, 0), 0)', ReturnData: true },
      metricStat('healthy', 'HealthyHostCount', 'Maximum', 'AWS/ApplicationELB'), metricStat('requests', 'RequestCount', 'Sum', 'AWS/ApplicationELB')],
    { TreatMissingData: 'notBreaching', AlarmActions: [{ Ref: 'Wake' }] }),
    Wake: exactPolicy([step(2, 0)], { Cooldown: 60 }),
  };
  // Tasks turn healthy two minutes after the desired count rises; the load balancer counts requests (its own 503s) from minute 1.
  const healthy = (m: number, h: readonly number[]) => (m >= 2 ? h[m - 2] : 0);
  const requests = (m: number) => (m >= 1 ? 1 : undefined);

  test('one request at 0 tasks wakes the service, and the alarm clears once tasks are healthy', () => {
    const r = run(resources, { HealthyHostCount: healthy, RequestCount: requests }, { initialCapacity: 0 });
    expect(r.map(x => x.alarms.W.value)).toEqual([0, 1, 1, 1, 0, 0]);
    expect(desiredAfter(r)).toEqual([0, 2, 2, 2, 2, 2]);
    expect(r.map(x => x.fired.map(f => f.outcome).join())).toEqual(['', 'scaled', 'unchanged', 'unchanged', '', '']);
  });

  test('if HealthyHostCount has no datapoint at all, FILL cannot rescue it under the conservative reading', () => {
    const silent = (m: number, h: readonly number[]) => (healthy(m, h) > 0 ? healthy(m, h) : undefined);
    expect(desiredAfter(run(resources, { HealthyHostCount: silent, RequestCount: requests }, { initialCapacity: 0 }))).toEqual([0, 0, 0, 0, 0, 0]);
    expect(desiredAfter(run(resources, { HealthyHostCount: silent, RequestCount: requests }, { initialCapacity: 0, fillEmptySeries: true })))
      .toEqual([0, 2, 2, 2, 2, 2]);
  });
});
