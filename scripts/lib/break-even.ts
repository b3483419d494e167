/**
 * When is an example's stack cheaper than serverless WebSockets? Prices the stack at a given number of
 * connected users and messages per second (tasks from the template's scaling settings and the per-task
 * capacity measured in bench/results) against API Gateway WebSocket APIs and AppSync Events, and finds the
 * user count where they cross.
 *
 * Left out on every side alike: data transfer out, the CDN in front, and the storage each design needs
 * (DynamoDB writes, search). Left out of the serverless side: the compute that relays messages (Lambda
 * for API Gateway routes and its PostToConnection calls), which makes the serverless figures a floor.
 */
import { estimateIdleCost, FargateService, fargateServices } from './idle-cost';
import { API_GATEWAY_WEBSOCKET, APPSYNC_EVENTS, HOURS_PER_MONTH, LOAD_BALANCER, MINUTES_PER_MONTH, SECONDS_PER_MONTH } from './prices';

export interface Traffic {
  /** Connected users, all month. */
  readonly users: number;
  /** Messages published by clients per second. */
  readonly msgsPerSecond: number;
  /** Deliveries per published message (room members for chat, every watcher for canvas). */
  readonly fanout: number;
  /** Bytes per message. */
  readonly bytes: number;
}

export interface ServerlessPrice {
  readonly service: 'API Gateway WebSocket' | 'AppSync Events';
  /** Billed messages or operations a month (inbound plus deliveries, in the service's size increments). */
  readonly messages: number;
  readonly connectionMinutes: number;
  readonly monthly: number;
}

/** API Gateway WebSocket APIs: messages sent and received, 32 KB increments, tiered at 1 billion; connection minutes. */
export function apiGatewayWebSocketMonthly(traffic: Traffic): ServerlessPrice {
  const increments = Math.ceil(traffic.bytes / API_GATEWAY_WEBSOCKET.messageIncrementBytes);
  const messages = (traffic.msgsPerSecond + traffic.msgsPerSecond * traffic.fanout) * increments * SECONDS_PER_MONTH;
  const firstTier = Math.min(messages, 1e9);
  const connectionMinutes = traffic.users * MINUTES_PER_MONTH;
  const monthly = firstTier / 1e6 * API_GATEWAY_WEBSOCKET.messagesFirstBillion.usd
    + (messages - firstTier) / 1e6 * API_GATEWAY_WEBSOCKET.messagesOverBillion.usd
    + connectionMinutes / 1e6 * API_GATEWAY_WEBSOCKET.connectionMinutes.usd;
  return { service: 'API Gateway WebSocket', messages, connectionMinutes, monthly };
}

/** AppSync Events: publishes and deliveries are operations (5 KB increments); connection minutes. */
export function appSyncEventsMonthly(traffic: Traffic): ServerlessPrice {
  const increments = Math.ceil(traffic.bytes / APPSYNC_EVENTS.eventIncrementBytes);
  const messages = (traffic.msgsPerSecond + traffic.msgsPerSecond * traffic.fanout) * increments * SECONDS_PER_MONTH;
  const connectionMinutes = traffic.users * MINUTES_PER_MONTH;
  const monthly = messages / 1e6 * APPSYNC_EVENTS.operations.usd + connectionMinutes / 1e6 * APPSYNC_EVENTS.connectionMinutes.usd;
  return { service: 'AppSync Events', messages, connectionMinutes, monthly };
}

/**
 * Server cores a workload needs, from one measured benchmark step: the example's server processes used
 * `cores` (sum of their CPU, 1 = one core) carrying `users` connections, `msgsPerSecond` and
 * `deliveriesPerSecond`.
 */
export interface MeasuredCapacity {
  readonly example: string;
  readonly users: number;
  readonly msgsPerSecond: number;
  readonly deliveriesPerSecond: number;
  readonly cores: number;
  /**
   * How work scales: "deliveries" (chat: each message to each room member) or "frames" (canvas: one frame
   * per watcher per tick that has placements, so `deliveriesPerSecond` counts frames).
   */
  readonly scaling: 'deliveries' | 'frames';
  /** Frames a watcher can get per second (canvas: 1000 / CANVAS_TICK_MS). */
  readonly ticksPerSecond?: number;
  /** Deliveries per message in the measured step. */
  readonly fanout: number;
  readonly measuredAt: string;
}

/**
 * Reads the per-example capacity from bench/results/latest.json. The canvas benchmark ran the server's
 * default tick (100 ms) unless BENCH_CANVAS_TICK_MS said otherwise, which the results do not record.
 */
export function measuredCapacity(results: any, example: string, canvasTickMs = 100): MeasuredCapacity {
  if (example === 'chat') {
    const chat = results.chat;
    const step = chat.maxSustained;
    const cores = sumServerCpu(step.cpuPercent, /^chat server/);
    const members = chat.options.membersPerRoom as number[];
    return {
      example,
      users: chat.options.clients,
      msgsPerSecond: step.acceptedPerSecond,
      deliveriesPerSecond: step.deliveriesPerSecond,
      cores,
      scaling: 'deliveries',
      fanout: members.reduce((a, b) => a + b, 0) / members.length,
      measuredAt: chat.date,
    };
  }
  if (example === 'canvas') {
    const canvas = results.canvas;
    const step = canvas.best;
    const ticksPerSecond = 1000 / canvasTickMs;
    return {
      example,
      users: canvas.options.watchers,
      msgsPerSecond: step.acceptedPerSecond,
      deliveriesPerSecond: canvas.options.watchers * Math.min(ticksPerSecond, step.acceptedPerSecond),
      cores: sumServerCpu(step.cpuPercent, /^canvas server/),
      scaling: 'frames',
      ticksPerSecond,
      fanout: canvas.options.watchers,
      measuredAt: canvas.date,
    };
  }
  throw new Error(`No benchmark capacity for example "${example}"; bench/results has canvas and chat`);
}

function sumServerCpu(cpuPercent: Record<string, number>, server: RegExp): number {
  return Object.entries(cpuPercent).filter(([name]) => server.test(name)).reduce((sum, [, percent]) => sum + percent / 100, 0);
}

/** Cores the example's servers need for this traffic. */
export function coresFor(capacity: MeasuredCapacity, traffic: Traffic): number {
  if (capacity.scaling === 'deliveries') {
    return capacity.cores * (traffic.msgsPerSecond * traffic.fanout) / capacity.deliveriesPerSecond;
  }
  // Canvas sends each watcher one frame per tick that has placements, however many (its CPU was flat from
  // 1,000 to 4,000 placements/s), so work follows frames, or placements when they outgrow the measured rate.
  const frames = traffic.users * Math.min(capacity.ticksPerSecond ?? 1, traffic.msgsPerSecond);
  return capacity.cores * Math.max(frames / capacity.deliveriesPerSecond, traffic.msgsPerSecond / capacity.msgsPerSecond);
}

export interface StackPrice {
  readonly tasks: number;
  /** Tasks the traffic needs beyond the template's MaxCapacity (priced anyway, as if it were raised). */
  readonly overMax: boolean;
  readonly lcus: number;
  readonly monthly: number;
  /** The part of `monthly` that is search (OpenSearch), which a serverless design would need as well. */
  readonly searchMonthly: number;
}

/** Types a serverless WebSocket design would need just the same: the message search index. */
const SEARCH_TYPES = new Set(['AWS::OpenSearchServerless::Collection', 'AWS::OpenSearchServerless::VpcEndpoint', 'AWS::OpenSearchService::Domain']);

/**
 * The stack at this traffic: the idle estimate with the service at the task count its scaling policies
 * would reach (CPU target tracking on the measured cores, a per-task connections target on users), plus
 * capacity units of its application load balancer (3,000 active connections or 1 GB processed an hour each).
 */
export function stackMonthly(template: any, capacity: MeasuredCapacity, traffic: Traffic): StackPrice {
  const service = mainService(template);
  const tasks = tasksFor(service, coresFor(capacity, traffic), traffic.users);
  const estimate = estimateIdleCost(template, { taskCounts: { [service.logicalId]: tasks } });
  const gbPerHour = (traffic.msgsPerSecond + traffic.msgsPerSecond * traffic.fanout) * traffic.bytes * 3600 / 1e9;
  const lcus = hasApplicationLoadBalancer(template) ? Math.max(traffic.users / 3000, gbPerHour) : 0;
  const monthly = estimate.total + lcus * LOAD_BALANCER.albLcuHour.usd * HOURS_PER_MONTH;
  const searchMonthly = estimate.lines.filter(l => SEARCH_TYPES.has(l.type)).reduce((sum, l) => sum + l.monthly, 0);
  return { tasks, overMax: tasks > service.maxTasks, lcus, monthly, searchMonthly };
}

function hasApplicationLoadBalancer(template: any): boolean {
  return Object.values<any>(template.Resources ?? {}).some(r => r.Type === 'AWS::ElasticLoadBalancingV2::LoadBalancer' && (r.Properties?.Type ?? 'application') === 'application');
}

/** Tasks the service's target-tracking policies settle at, never below its minimum. */
export function tasksFor(service: FargateService, cores: number, users: number): number {
  const cpuTarget = (service.cpuTargetPercent ?? 100) / 100;
  const byCpu = Math.ceil(cores / (service.vcpu * cpuTarget) - 1e-9);
  const connections = service.customTargets.find(t => /connection/i.test(t.metric));
  const byConnections = connections ? Math.ceil(users / connections.value - 1e-9) : 0;
  return Math.max(service.minTasks, byCpu, byConnections, users > 0 ? 1 : 0);
}

function mainService(template: any): FargateService {
  const services = fargateServices(template);
  if (services.length !== 1) {
    throw new Error(`Expected one Fargate service in the template, found ${services.length}`);
  }
  return services[0];
}

/** How a user of an example behaves, for the crossover search. */
export interface UserProfile {
  /** Messages each user publishes per second. */
  readonly msgsPerUserPerSecond: number;
  readonly bytes: number;
  /** "<who receives what>; <how often each user sends>". */
  readonly describe: string;
  /** Deliveries per message at this many users. */
  fanout(users: number): number;
}

export function trafficFor(profile: UserProfile, users: number): Traffic {
  return { users, msgsPerSecond: users * profile.msgsPerUserPerSecond, fanout: profile.fanout(users), bytes: profile.bytes };
}

export interface Crossover {
  readonly service: ServerlessPrice['service'];
  /** Fewest users at which the serverless service costs at least as much as the stack; undefined if none up to the search limit. */
  readonly users?: number;
  readonly stackMonthly?: number;
  readonly serverlessMonthly?: number;
}

export interface CrossoverOptions {
  /**
   * Leave search out of the stack's price, since a serverless design needs the same index.
   * @default false
   */
  readonly withoutSearch?: boolean;
  /**
   * Largest user count searched.
   * @default 10,000,000
   */
  readonly limit?: number;
}

/** Finds, for each serverless service, the user count where it stops being cheaper than the stack. */
export function crossovers(template: any, capacity: MeasuredCapacity, profile: UserProfile, options: CrossoverOptions = {}): Crossover[] {
  const limit = options.limit ?? 10_000_000;
  const stackAt = (traffic: Traffic) => {
    const stack = stackMonthly(template, capacity, traffic);
    return options.withoutSearch ? stack.monthly - stack.searchMonthly : stack.monthly;
  };
  const services = [apiGatewayWebSocketMonthly, appSyncEventsMonthly];
  return services.map(price => {
    const dearer = (users: number) => {
      const traffic = trafficFor(profile, users);
      return price(traffic).monthly >= stackAt(traffic);
    };
    let low = 0;
    let high = 1;
    while (!dearer(high)) {
      low = high;
      high = Math.ceil(high * 1.25);
      if (high > limit) {
        return { service: price(trafficFor(profile, 1)).service };
      }
    }
    while (high - low > 1) {
      const mid = Math.floor((low + high) / 2);
      if (dearer(mid)) {
        high = mid;
      } else {
        low = mid;
      }
    }
    const traffic = trafficFor(profile, high);
    return {
      service: price(traffic).service,
      users: high,
      stackMonthly: stackAt(traffic),
      serverlessMonthly: price(traffic).monthly,
    };
  });
}
