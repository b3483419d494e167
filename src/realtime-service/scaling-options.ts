import { Duration } from 'aws-cdk-lib';

/**
 * How a RealtimeFargateService scales with load.
 *
 * Three target-tracking policies run side by side (CPU, memory and active connections per task);
 * Application Auto Scaling follows whichever asks for the most tasks. Scale-in is deliberately slower
 * than scale-out because every task removed cuts its WebSocket connections (they reconnect elsewhere).
 */
export interface RealtimeScalingOptions {
  /**
   * Fewest tasks. Two keeps one task per Availability Zone so a zone failure does not drop every socket.
   *
   * Zero is only allowed together with `scaleToZero`.
   *
   * @default 2 (0 when `scaleToZero` is set)
   */
  readonly minCapacity?: number;

  /**
   * Most tasks.
   *
   * @default 10
   */
  readonly maxCapacity?: number;

  /**
   * Target average CPU utilization per task, in percent.
   *
   * @default 60
   */
  readonly targetCpuUtilizationPercent?: number;

  /**
   * Target average memory utilization per task, in percent.
   *
   * @default 70
   */
  readonly targetMemoryUtilizationPercent?: number;

  /**
   * Target number of open connections per task.
   *
   * The value tracked is the `ActiveConnections` embedded-metric line each task writes to its log
   * (namespace `CdkRealtime`, dimension `Service`), averaged over the tasks. The ALB's own
   * `ActiveConnectionCount` has only LoadBalancer and Availability Zone dimensions, so it cannot give a
   * per-task figure without a dedicated load balancer and metric math; the container's own count can,
   * and it counts only upgraded sockets, not short HTTP requests.
   *
   * @default 5000
   */
  readonly connectionsPerTask?: number;

  /**
   * Time after a scale-in before another scale-in may start.
   *
   * @default Duration.minutes(5)
   */
  readonly scaleInCooldown?: Duration;

  /**
   * Time after a scale-out before another scale-out may start.
   *
   * @default Duration.minutes(1)
   */
  readonly scaleOutCooldown?: Duration;
}

/**
 * Scale a RealtimeFargateService to zero tasks when nobody uses it, and back up on the first request.
 *
 * Scale-in: when the sum of `ActiveConnections` over all tasks and the load balancer's `RequestCount`
 * are both zero for `idlePeriod`, a step-scaling policy sets the task count to 0.
 *
 * Wake-up: while the target group has no healthy target, any request counted by the load balancer
 * (answered 503 by the ALB, since nothing is registered) trips an alarm whose step-scaling policy sets
 * the count to `wakeCapacity`. Clients must retry with backoff; the example kit's client does.
 *
 * Wake-up latency is the sum of parts we cannot shorten, from AWS's published behaviour: the ALB
 * publishes `RequestCount` once a minute (about 60 s until the datapoint exists), the alarm evaluates a
 * one-minute period (up to 60 s more), Application Auto Scaling then updates the service (a few
 * seconds), and Fargate pulls the image and starts the task (typically 30-60 s for a small ARM64
 * image), which must pass two `/healthz` checks 10 s apart. Expect about 2-3 minutes from the first
 * request to the first served connection; that is why scale-to-zero is opt-in and suits development
 * and rarely used systems, not interactive production traffic.
 */
export interface ScaleToZeroOptions {
  /**
   * How long the service must see no connections and no requests before it scales to zero.
   * Whole minutes from 1 to 1440.
   *
   * @default Duration.minutes(15)
   */
  readonly idlePeriod?: Duration;

  /**
   * How many tasks to start when a request arrives while the service is at zero.
   *
   * @default 1
   */
  readonly wakeCapacity?: number;
}
