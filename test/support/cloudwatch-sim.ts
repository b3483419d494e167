/**
 * Simulates, minute by minute, what AWS would do with the `AWS::CloudWatch::Alarm` resources of a synthesized
 * template and the Application Auto Scaling step-scaling policies they invoke. Nothing deploys: every rule below
 * encodes AWS's documented behaviour and cites the page it comes from.
 *
 * Pages (the CloudWatch alarm page has since been split into alarm-evaluation.html, alarms-and-missing-data.html and
 * alarm-actions.html; the quoted rules are those of awsdocs/amazon-cloudwatch-user-guide doc_source/AlarmThatSendsEmail.md,
 * last revision before that repository was archived):
 * - ALARMS:  https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html
 * - MATH:    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html
 * - STEPS:   https://docs.aws.amazon.com/autoscaling/application/userguide/step-scaling-policy-overview.html
 * - STEPAPI: https://docs.aws.amazon.com/autoscaling/application/APIReference/API_StepScalingPolicyConfiguration.html
 *
 * Order within minute t (whole minutes from 0):
 *  1. the desired capacity during minute t is history[t] (history[0] = initialCapacity);
 *  2. at the end of minute t every alarm fetches its datapoints and is evaluated from the state it ended minute t-1 in.
 *     `datapoint` is asked once per metric and minute (answers are cached: past data does not change), always at the
 *     end of that minute, so the history it sees ends with that minute;
 *  3. then actions run: Auto Scaling actions of each alarm's current state, other actions on state changes only;
 *  4. the winning scaling activity sets history[t+1].
 * Scaling activities complete at once; Cooldown counts from the minute of the activity.
 */

export type AlarmState = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';
export type Datapoint = number | undefined;
/** One value per period, oldest first; undefined means no datapoint for that period. */
export type Series = Datapoint[];

/**
 * Does FILL give values to a metric that has no datapoint at all in the queried range? MATH only says FILL "fills
 * the missing values of a time series" and is silent about a series without any value. Conservative reading: no,
 * the result stays empty and the alarm's TreatMissingData decides. Pass `fillEmptySeries: true` to test the other reading.
 */
export const FILL_EMPTY_SERIES = false;

/**
 * ALARMS: "CloudWatch attempts to retrieve a higher number of data points than the number specified as Evaluation
 * Periods ... The exact number ... depends on the length of the alarm period" — the only example given retrieves 5
 * for 3 evaluation periods, so the evaluation range here is EvaluationPeriods + 2 periods.
 */
export const EXTRA_EVALUATION_DATAPOINTS = 2;

/**
 * The breach value a step policy sees when the alarm evaluated no real datapoint (e.g. ALARM from `breaching` missing
 * data). STEPS does not say; conservatively assume the policy still acts, as if the value sat on the threshold
 * ('threshold'), so missing data is never assumed harmless. 'skip' makes such invocations do nothing.
 */
export const BREACH_VALUE_WITHOUT_DATA: 'threshold' | 'skip' = 'threshold';

// ---------------------------------------------------------------------------------------------------------------
// Metric math (MATH): a parser and evaluator for numbers, metric ids, + - * / ^, comparisons, AND/OR/&&/||,
// parentheses, FILL(ts, value|ts), IF(cond, a[, b]) and MAX/MIN/SUM/AVG over [ts, ...] arrays.

/** A scalar, a time series, or an array of time series ([m1, m2]). */
export type MathValue = number | Series | { list: Series[] };
const isList = (v: MathValue): v is { list: Series[] } => typeof v === 'object' && !Array.isArray(v);
const defined = (p: Datapoint): p is number => p !== undefined;

const OPS: Record<string, (x: number, y: number) => Datapoint> = {
  '+': (x, y) => x + y,
  '-': (x, y) => x - y,
  '*': (x, y) => x * y,
  // MATH: "If the value of a data point causes a function to attempt to divide by zero, the data point is dropped."
  '/': (x, y) => (y === 0 ? undefined : x / y),
  '^': (x, y) => x ** y,
  '==': (x, y) => +(x === y),
  '!=': (x, y) => +(x !== y),
  '<': (x, y) => +(x < y),
  '<=': (x, y) => +(x <= y),
  '>': (x, y) => +(x > y),
  '>=': (x, y) => +(x >= y),
  'AND': (x, y) => +(x !== 0 && y !== 0),
  'OR': (x, y) => +(x !== 0 || y !== 0),
};
OPS['&&'] = OPS.AND;
OPS['||'] = OPS.OR;
const LEVELS = [['OR', '||'], ['AND', '&&'], ['==', '!=', '<', '<=', '>', '>='], ['+', '-'], ['*', '/']];

function pointwise(a: MathValue, b: MathValue, f: (x: number, y: number) => Datapoint): MathValue {
  if (isList(a)) return { list: a.list.map(s => pointwise(s, b, f) as Series) };
  if (isList(b)) return { list: b.list.map(s => pointwise(a, s, f) as Series) };
  if (typeof a === 'number' && typeof b === 'number') return f(a, b) ?? NaN;
  if (typeof a === 'number') return (b as Series).map(y => (y === undefined ? undefined : f(a, y)));
  if (typeof b === 'number') return a.map(x => (x === undefined ? undefined : f(x, b)));
  // Two series: a timestamp in either one is in the result. MATH, arithmetic: "Missing values in a time series are
  // treated as 0"; comparisons: "only one of the time series has a value ... treats the missing value ... as 0".
  return a.map((x, j) => (x === undefined && b[j] === undefined ? undefined : f(x ?? 0, b[j] ?? 0)));
}

function fill(s: Series, filler: MathValue | undefined, fillEmpty: boolean): Series {
  if (filler === undefined || isList(filler)) throw new Error('metric math: FILL needs a scalar or a time series to fill with');
  if (!fillEmpty && !s.some(defined)) return s; // see FILL_EMPTY_SERIES
  return s.map((p, j) => p ?? (typeof filler === 'number' ? filler : filler[j]));
}

/** MATH, "Using IF expressions": IF(TS, TS, TS), IF(TS, S, TS), IF(TS, TS, S), IF(TS, S, S) and IF(S, TS, TS). */
function ifThen(cond: MathValue, a: MathValue, b: MathValue | undefined, length: number): MathValue {
  if (isList(cond) || isList(a) || (b !== undefined && isList(b))) throw new Error('metric math: IF over arrays of series is not simulated');
  if (typeof cond === 'number') return cond !== 0 ? a : b ?? new Array<Datapoint>(length).fill(undefined);
  return cond.map((c, j) => {
    if (c === undefined) return undefined; // no condition datapoint: dropped
    if (c !== 0) return typeof a === 'number' ? a : a[j] ?? 0; // "has the value of 0, if ... TRUE and ... does not exist in metric2"
    return b === undefined ? undefined : typeof b === 'number' ? b : b[j]; // FALSE without metric3 (or its point): dropped
  });
}

/** MAX/MIN/SUM/AVG of [ts, ...], per timestamp. MATH says AVG treats missing values as 0; MAX/MIN/SUM are assumed to do the same. */
function across(name: string, v: MathValue): Series {
  if (!isList(v)) throw new Error(`metric math: ${name} of a single series is a scalar over the whole queried range (not simulated)`);
  return v.list[0].map((_, j) => {
    const points = v.list.map(s => s[j]);
    if (!points.some(defined)) return undefined;
    const xs = points.map(p => p ?? 0);
    const sum = xs.reduce((x, y) => x + y, 0);
    return name === 'MAX' ? Math.max(...xs) : name === 'MIN' ? Math.min(...xs) : name === 'SUM' ? sum : sum / xs.length;
  });
}

function evaluateWith(expression: string, lookup: (id: string) => MathValue, length: number, fillEmpty: boolean): MathValue {
  const tokens = expression.match(/\d+(?:\.\d+)?|[A-Za-z_]\w*|&&|\|\||[=!<>]=|\S/g) ?? [];
  let pos = 0;
  const fail = (why: string): never => { throw new Error(`metric math: ${why} in '${expression}'`); };
  const peek = () => tokens[pos];
  const take = (want?: string): string => {
    const tok = tokens[pos++];
    if (tok === undefined || (want !== undefined && tok !== want)) fail(`expected '${want ?? 'a term'}' but found '${tok ?? 'the end'}'`);
    return tok;
  };
  const list = (close: string): MathValue[] => {
    const items: MathValue[] = [];
    while (peek() !== close) {
      items.push(binary(0));
      if (peek() !== close) take(',');
    }
    take(close);
    return items;
  };
  const binary = (level: number): MathValue => {
    if (level === LEVELS.length) return unary();
    let left = binary(level + 1);
    while (LEVELS[level].includes(peek())) {
      const op = OPS[take()];
      left = pointwise(left, binary(level + 1), op);
    }
    return left;
  };
  const unary = (): MathValue => {
    if (peek() === '-') {
      take();
      return pointwise(0, unary(), OPS['-']);
    }
    const base = primary();
    if (peek() !== '^') return base;
    take();
    return pointwise(base, unary(), OPS['^']);
  };
  const primary = (): MathValue => {
    const tok = take();
    if (tok === '(') { const v = binary(0); take(')'); return v; }
    if (tok === '[') {
      return { list: list(']').map(v => (Array.isArray(v) ? v : fail('arrays hold time series only'))) };
    }
    if (/^\d/.test(tok)) return Number(tok);
    if (/^[a-z]/.test(tok)) return lookup(tok); // MATH: ids start with a lowercase letter, functions are uppercase
    if (!/^[A-Z]/.test(tok) || peek() !== '(') return fail(`'${tok}' is not simulated`);
    take('(');
    const args = list(')');
    if (tok === 'FILL' && args.length === 2) return isList(args[0]) ? { list: args[0].list.map(s => fill(s, args[1], fillEmpty)) } : fill(args[0] as Series, args[1], fillEmpty);
    if (tok === 'IF' && (args.length === 2 || args.length === 3)) return ifThen(args[0], args[1], args[2], length);
    if (['MAX', 'MIN', 'SUM', 'AVG'].includes(tok) && args.length === 1) return across(tok, args[0]);
    return fail(`${tok} with ${args.length} argument(s) is not simulated`);
  };
  const result = binary(0);
  if (pos !== tokens.length) fail(`unexpected '${tokens[pos]}'`);
  return result;
}

/** Evaluates a metric math expression over equally long series keyed by metric id. */
export function evaluateExpression(expression: string, series: Record<string, Series>, options: { fillEmptySeries?: boolean } = {}): MathValue {
  const length = Object.values(series)[0]?.length ?? 0;
  const lookup = (id: string): Series => series[id] ?? (() => { throw new Error(`metric math: unknown id '${id}'`); })();
  return evaluateWith(expression, lookup, length, options.fillEmptySeries ?? FILL_EMPTY_SERIES);
}

// ---------------------------------------------------------------------------------------------------------------
// Alarm evaluation (ALARMS, "How alarm state is evaluated when data is missing" and "Avoiding premature transitions").

export interface AlarmRule {
  readonly EvaluationPeriods: number;
  readonly DatapointsToAlarm?: number;
  readonly ComparisonOperator: string;
  readonly Threshold: number;
  readonly TreatMissingData?: string;
}

function breaches(op: string, value: number, threshold: number): boolean {
  switch (op) {
    case 'GreaterThanOrEqualToThreshold': return value >= threshold;
    case 'GreaterThanThreshold': return value > threshold;
    case 'LessThanThreshold': return value < threshold;
    case 'LessThanOrEqualToThreshold': return value <= threshold;
    default: throw new Error(`ComparisonOperator ${op} is not simulated`);
  }
}

/**
 * The state for the datapoints of one evaluation range (oldest first), and the real datapoints it was decided on.
 * Checked against every row of the two tables on the ALARMS page (see the tests).
 */
export function evaluateAlarm(points: Series, rule: AlarmRule, current: AlarmState): { state: AlarmState; evaluated: number[] } {
  const n = rule.EvaluationPeriods;
  const m = rule.DatapointsToAlarm ?? n;
  const treat = rule.TreatMissingData ?? 'missing';
  const verdict = (breaching: number): AlarmState => (breaching >= m ? 'ALARM' : 'OK');
  const real = points.filter(defined);
  const isBreach = (v: number) => breaches(rule.ComparisonOperator, v, rule.Threshold);
  // Enough real datapoints in the range: the newest N decide and missing-data treatment "is not needed and is ignored".
  if (real.length >= n) {
    const used = real.slice(-n);
    return { state: verdict(used.filter(isBreach).length), evaluated: used };
  }
  // Otherwise all real datapoints count and missing ones fill the rest, "only as few times as possible".
  const hits = real.filter(isBreach).length;
  const state = ((): AlarmState => {
    if (treat === 'breaching') return verdict(hits + n - real.length);
    if (treat === 'notBreaching') return verdict(hits);
    if (treat !== 'missing' && treat !== 'ignore') throw new Error(`TreatMissingData ${treat} is not simulated`);
    if (real.length === 0) return treat === 'missing' ? 'INSUFFICIENT_DATA' : current;
    if (hits >= m) return 'ALARM';
    if (hits < real.length) return 'OK'; // a real non-breaching point decides (tables: "0 - - - -", "0 - X - -" are OK)
    // Only breaching points, fewer than M. Premature-alarm rule: ALARM when "the oldest available breaching datapoint
    // ... is at least as old as the value of Datapoints to Alarm, and all other more recent data points are breaching
    // or missing" ("- - X - -" with M=3). The tables give `ignore` "Retain current state" for those rows.
    const oldestAge = points.length - points.findIndex(defined);
    if (treat === 'missing') return oldestAge >= m ? 'ALARM' : 'INSUFFICIENT_DATA';
    return current;
  })();
  return { state, evaluated: real };
}

// ---------------------------------------------------------------------------------------------------------------
// Templates: intrinsics, metrics, alarms.

/**
 * Renders CloudFormation intrinsics as plain strings so tests can key metrics on them: {Ref: X} → 'X',
 * {'Fn::GetAtt': [X, Y]} → 'X.Y', Fn::Join joins, Fn::Sub drops the ${} markers, Fn::Split splits and Fn::Select
 * picks; selecting past the end (splitting a Ref that has no separator) gives 'X[i]'. Anything else becomes its JSON.
 */
export function resolveIntrinsic(value: unknown): string {
  const r = resolveAny(value);
  return Array.isArray(r) ? r.join(',') : r;
}

function resolveAny(v: any): string | string[] {
  if (['string', 'number', 'boolean'].includes(typeof v)) return String(v);
  if (Array.isArray(v)) return v.map(resolveIntrinsic);
  if (v?.Ref !== undefined) return String(v.Ref);
  const getAtt = v?.['Fn::GetAtt'];
  if (getAtt !== undefined) return Array.isArray(getAtt) ? getAtt.join('.') : String(getAtt);
  if (v?.['Fn::Join']) return (resolveAny(v['Fn::Join'][1]) as string[]).join(v['Fn::Join'][0]);
  if (v?.['Fn::Sub']) return String(Array.isArray(v['Fn::Sub']) ? v['Fn::Sub'][0] : v['Fn::Sub']).replace(/\$\{([^}]+)\}/g, '$1');
  if (v?.['Fn::Split']) return resolveIntrinsic(v['Fn::Split'][1]).split(v['Fn::Split'][0]);
  if (v?.['Fn::Select']) {
    const [index, from] = v['Fn::Select'];
    const items = [resolveAny(from)].flat();
    return items[Number(index)] ?? `${items.join(',')}[${index}]`;
  }
  return JSON.stringify(v);
}

/** A metric as the `datapoint` callback sees it; dimensions are resolved with `resolveIntrinsic`. */
export interface MetricRef {
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Record<string, string>;
  readonly stat: string;
}

type Fetch = (metric: MetricRef, minute: number) => Datapoint;

function metricRef(m: any, stat: string): MetricRef {
  const dimensions = Object.fromEntries((m.Dimensions ?? []).map((d: any) => [d.Name, resolveIntrinsic(d.Value)]));
  return { namespace: m.Namespace, metricName: m.MetricName, dimensions, stat };
}

/**
 * The datapoint of a period ending with minute `end`. ALARMS: "For any period of one minute or longer, an alarm is
 * evaluated every minute" over a sliding window. The callback gives one-minute values; longer periods combine them
 * (Average as the mean of minute averages, an approximation). Minutes before 0 have no data.
 */
function periodValue(fetch: Fetch, metric: MetricRef, end: number, periodMinutes: number): Datapoint {
  const values: number[] = [];
  for (let minute = Math.max(0, end - periodMinutes + 1); minute <= end; minute++) {
    const v = fetch(metric, minute);
    if (v !== undefined) values.push(v);
  }
  if (values.length === 0) return undefined;
  const sum = values.reduce((x, y) => x + y, 0);
  switch (metric.stat) {
    case 'Sum': case 'SampleCount': return sum;
    case 'Maximum': return Math.max(...values);
    case 'Minimum': return Math.min(...values);
    case 'Average': return sum / values.length;
    default:
      if (periodMinutes === 1) return values[0];
      throw new Error(`statistic ${metric.stat} over ${periodMinutes} minutes is not simulated`);
  }
}

interface CompiledAlarm {
  readonly id: string;
  readonly props: any;
  /** The evaluation range at the end of minute t, oldest period first. */
  points(t: number, fetch: Fetch): Series;
}

function compileAlarm(id: string, props: any, fillEmpty: boolean): CompiledAlarm {
  // A single-metric alarm is read as one MetricStat query.
  const metrics: any[] = props.Metrics
    ?? [{ Id: 'metric', MetricStat: { Metric: props, Stat: props.Statistic ?? props.ExtendedStatistic, Period: props.Period } }];
  const queries = new Map(metrics.map(q => [q.Id, q]));
  const returned = metrics.filter(q => q.ReturnData !== false);
  const periods = new Set(metrics.filter(q => q.MetricStat).map(q => q.MetricStat.Period));
  // ALARMS, math expressions: "Each metric must be using the same period."
  if (returned.length !== 1 || periods.size > 1) throw new Error(`${id}: needs one ReturnData query and one period`);
  const period = ([...periods][0] ?? props.Period ?? 60) / 60;
  const range = props.EvaluationPeriods + EXTRA_EVALUATION_DATAPOINTS;
  const points = (t: number, fetch: Fetch): Series => {
    const memo = new Map<string, MathValue>();
    const lookup = (qid: string): MathValue => {
      const q = queries.get(qid);
      if (!q) throw new Error(`${id}: unknown metric id '${qid}'`);
      if (!memo.has(qid)) {
        const metric = q.MetricStat && metricRef(q.MetricStat.Metric, q.MetricStat.Stat);
        // Period j of the range (0 = oldest) ends with minute t - (range - 1 - j) * period.
        memo.set(qid, metric
          ? Array.from({ length: range }, (_, j) => periodValue(fetch, metric, t - (range - 1 - j) * period, period))
          : evaluateWith(q.Expression, lookup, range, fillEmpty));
      }
      return memo.get(qid)!;
    };
    const result = lookup(returned[0].Id);
    if (!Array.isArray(result)) throw new Error(`${id}: the alarm expression must give one time series`);
    return result;
  };
  return { id, props, points };
}

// ---------------------------------------------------------------------------------------------------------------
// Step scaling (STEPS, STEPAPI) and the simulation loop.

/** STEPS: a step's bounds are relative to the threshold; "If the metric value is above the breach threshold, the lower
 * bound is inclusive and the upper bound is exclusive. If ... below ..., the lower bound is exclusive and the upper bound
 * is inclusive." At the threshold itself the alarm's direction decides (a GreaterThan* alarm breaches from above). */
function pickStep(steps: any[], diff: number, breachFromAbove: boolean): any {
  const above = diff > 0 || (diff === 0 && breachFromAbove);
  return steps.find(s => {
    const lo = s.MetricIntervalLowerBound ?? -Infinity;
    const hi = s.MetricIntervalUpperBound ?? Infinity;
    return above ? lo <= diff && diff < hi : lo < diff && diff <= hi;
  });
}

/** STEPS, PercentChangeInCapacity: "Values greater than 1 are rounded down ... between 0 and 1 are rounded to 1 ...
 * between 0 and -1 are rounded to -1 ... less than -1 are rounded up", then at least MinAdjustmentMagnitude. */
function percentChange(capacity: number, percent: number, minMagnitude = 0): number {
  const raw = (capacity * percent) / 100;
  const change = Number.isInteger(raw) ? raw : raw > 1 ? Math.floor(raw) : raw > 0 ? 1 : raw > -1 ? -1 : Math.ceil(raw);
  return percent !== 0 && Math.abs(change) < minMagnitude ? Math.sign(percent) * minMagnitude : change;
}

export interface PolicyFiring {
  /** The alarm that invoked the policy; undefined for a target-tracking request from the hook. */
  readonly alarm?: string;
  readonly policy: string;
  /** The aggregated metric value the policy compared with its steps. */
  readonly breachValue?: number;
  /** The capacity the policy asked for, after clamping to MinCapacity/MaxCapacity. */
  readonly requested?: number;
  readonly outcome: 'scaled' | 'outranked' | 'cooldown' | 'unchanged' | 'no step';
}

export interface MinuteRecord {
  readonly minute: number;
  /** Desired capacity during this minute. */
  readonly desired: number;
  /** Each alarm's state after the evaluation at the end of this minute, and its newest datapoint. */
  readonly alarms: Record<string, { state: AlarmState; value: Datapoint }>;
  readonly fired: PolicyFiring[];
  /** Non-Auto Scaling actions (resolved with resolveIntrinsic) run on a state change at the end of this minute. */
  readonly notified: { alarm: string; action: string }[];
  /** Desired capacity after this minute's actions, i.e. during the next minute. */
  readonly desiredAfter: number;
}

export interface SimulateOptions {
  readonly template: { Resources?: Record<string, any> };
  readonly minutes: number;
  readonly initialCapacity: number;
  /** The one-minute value of a metric for a minute, or undefined for no datapoint. `history[i]` is the desired capacity during minute i. */
  readonly datapoint: (metric: MetricRef, minute: number, history: readonly number[]) => Datapoint;
  /** Target tracking is out of scope (its alarms are not simulated): this hook says which capacity a TargetTrackingScaling
   * policy would set at the end of a minute (undefined: none). Without it they are ignored. */
  readonly targetTracking?: (policy: string, minute: number, history: readonly number[]) => number | undefined;
  /** The ScalableTarget to simulate; needed only when the template has several. */
  readonly scalableTarget?: string;
  readonly fillEmptySeries?: boolean;
  readonly breachValueWithoutData?: 'threshold' | 'skip';
}

export function simulate(o: SimulateOptions): MinuteRecord[] {
  const resources = o.template.Resources ?? {};
  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
  const targets = ofType('AWS::ApplicationAutoScaling::ScalableTarget').map(([id]) => id);
  const targetId = o.scalableTarget ?? (targets.length === 1 ? targets[0] : undefined);
  if (!targetId || !resources[targetId]) throw new Error(`pick one ScalableTarget of: ${targets.join(', ')}`);
  const { MinCapacity: min, MaxCapacity: max } = resources[targetId].Properties;
  const policies = new Map(ofType('AWS::ApplicationAutoScaling::ScalingPolicy')
    .filter(([, r]) => r.Properties.ScalingTargetId?.Ref === targetId)
    .map(([id, r]) => [id, r.Properties]));
  const alarms = ofType('AWS::CloudWatch::Alarm').map(([id, r]) => compileAlarm(id, r.Properties, o.fillEmptySeries ?? FILL_EMPTY_SERIES));

  const cache = new Map<string, Datapoint>();
  const history = [o.initialCapacity];
  const fetch: Fetch = (metric, minute) => {
    const key = `${JSON.stringify(metric)}@${minute}`;
    if (!cache.has(key)) cache.set(key, o.datapoint(metric, minute, history.slice(0, minute + 1)));
    return cache.get(key);
  };
  // PutMetricAlarm: "When this operation creates an alarm, the alarm state is immediately set to INSUFFICIENT_DATA."
  const states = new Map<string, AlarmState>(alarms.map(a => [a.id, 'INSUFFICIENT_DATA']));
  const transitioned = new Set<string>();
  const scaleOut = new Map<string, { until: number; base: number; reached: number }>();
  let scaleInUntil = -Infinity;
  const records: MinuteRecord[] = [];

  for (let t = 0; t < o.minutes; t++) {
    const desired = history[t];
    const clamp = (c: number) => Math.min(max, Math.max(min, c));
    const record: MinuteRecord = { minute: t, desired, alarms: {}, fired: [], notified: [], desiredAfter: desired };
    const proposals: { firing: PolicyFiring; capacity: number; cooldown?: number }[] = [];

    const invoke = (alarm: CompiledAlarm, policyId: string, evaluated: number[]): void => {
      const cfg = policies.get(policyId).StepScalingPolicyConfiguration;
      const p = alarm.props;
      // STEPS: Application Auto Scaling "applies your specified aggregation type to the most recent metric data points";
      // here, the real datapoints the alarm was decided on. STEPAPI: a null MetricAggregationType "is treated as Average".
      const agg = cfg.MetricAggregationType ?? 'Average';
      const breachValue = evaluated.length === 0
        ? ((o.breachValueWithoutData ?? BREACH_VALUE_WITHOUT_DATA) === 'threshold' ? p.Threshold : undefined)
        : agg === 'Maximum' ? Math.max(...evaluated) : agg === 'Minimum' ? Math.min(...evaluated)
          : evaluated.reduce((x, y) => x + y, 0) / evaluated.length;
      const step = breachValue === undefined ? undefined
        : pickStep(cfg.StepAdjustments, breachValue - p.Threshold, p.ComparisonOperator.startsWith('Greater'));
      const base = { alarm: alarm.id, policy: policyId, breachValue };
      const skip = (outcome: PolicyFiring['outcome'], requested?: number) => { record.fired.push({ ...base, requested, outcome }); };
      if (!step) return skip('no step');
      const from = (capacity: number) => {
        const adj = step.ScalingAdjustment;
        if (cfg.AdjustmentType === 'ExactCapacity') return clamp(adj);
        if (cfg.AdjustmentType === 'PercentChangeInCapacity') return clamp(capacity + percentChange(capacity, adj, cfg.MinAdjustmentMagnitude));
        return clamp(capacity + adj);
      };
      // STEPAPI: "If not specified, the default value is 300."
      const cooldown = (cfg.Cooldown ?? 300) / 60;
      let requested = from(desired);
      const outCooldown = scaleOut.get(policyId);
      if (requested > desired && outCooldown && t < outCooldown.until) {
        // STEPS, scale-out cooldown: "capacity added by the initiating scale-out activity is calculated as part of the
        // desired capacity for the next scale-out", and the policy "won't increase the desired capacity again unless
        // either a larger scale out is triggered or the cooldown period ends".
        requested = from(outCooldown.base);
        if (requested <= Math.max(outCooldown.reached, desired)) return skip('cooldown', requested);
      }
      // STEPS, scale-in cooldown: "scale-in activities are blocked until the cooldown period has expired".
      if (requested < desired && t < scaleInUntil) return skip('cooldown', requested);
      if (requested === desired) return skip('unchanged', requested);
      proposals.push({ firing: { ...base, requested, outcome: 'scaled' }, capacity: requested, cooldown });
    };

    for (const alarm of alarms) {
      const previous = states.get(alarm.id)!;
      const points = alarm.points(t, fetch);
      const { state, evaluated } = evaluateAlarm(points, alarm.props, previous);
      states.set(alarm.id, state);
      record.alarms[alarm.id] = { state, value: points[points.length - 1] };
      const changed = state !== previous;
      if (changed) transitioned.add(alarm.id);
      if (alarm.props.ActionsEnabled === false) continue;
      const key = state === 'ALARM' ? 'AlarmActions' : state === 'OK' ? 'OKActions' : 'InsufficientDataActions';
      for (const action of alarm.props[key] ?? []) {
        const policy = action?.Ref !== undefined ? policies.get(action.Ref) : undefined;
        // ALARMS: "An alarm invokes actions only when the alarm changes state. The exception is for alarms with Auto
        // Scaling actions ... the alarm continues to invoke the action once per minute that the alarm remains in the new
        // state." The initial INSUFFICIENT_DATA was never entered by a change, so it invokes nothing.
        if (policy?.PolicyType === 'StepScaling' && transitioned.has(alarm.id)) invoke(alarm, action.Ref, evaluated);
        else if (!policy && changed) record.notified.push({ alarm: alarm.id, action: resolveIntrinsic(action) });
      }
    }
    for (const [policyId, props] of policies) {
      if (props.PolicyType !== 'TargetTrackingScaling' || !o.targetTracking) continue;
      const wanted = o.targetTracking(policyId, t, history.slice());
      if (wanted === undefined) continue;
      const firing: PolicyFiring = { policy: policyId, requested: clamp(wanted), outcome: 'scaled' };
      if (clamp(wanted) === desired) record.fired.push({ ...firing, outcome: 'unchanged' });
      else proposals.push({ firing, capacity: clamp(wanted) });
    }

    // put-scaling-policy (https://docs.aws.amazon.com/cli/latest/reference/application-autoscaling/put-scaling-policy.html):
    // with several policies at once, "Application Auto Scaling gives precedence to the policy that provides the largest
    // capacity for both scale out and scale in."
    proposals.sort((a, b) => b.capacity - a.capacity);
    proposals.forEach((p, i) => record.fired.push(i === 0 ? p.firing : { ...p.firing, outcome: 'outranked' }));
    const winner = proposals[0];
    if (winner) {
      if (winner.capacity > desired) {
        scaleInUntil = -Infinity; // STEPS: a scale-out during a scale-in cooldown "stops" that cooldown
        const policy = winner.firing.policy;
        const running = scaleOut.get(policy);
        if (winner.cooldown !== undefined) {
          const fresh = { until: t + winner.cooldown, base: desired };
          scaleOut.set(policy, { ...(running && t < running.until ? running : fresh), reached: winner.capacity });
        }
      } else if (winner.cooldown !== undefined) {
        scaleInUntil = t + winner.cooldown;
      }
    }
    const desiredAfter = winner?.capacity ?? desired;
    history.push(desiredAfter);
    records.push({ ...record, desiredAfter });
  }
  return records;
}
