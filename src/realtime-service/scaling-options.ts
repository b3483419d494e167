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
   * Zero turns on scale to zero: the service stops its last task after an idle period and starts again
   * when a request arrives (see ScaleToZeroOptions, and `scaleToZero` to tune it).
   *
   * @default 2
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
 * How a RealtimeFargateService scales to zero tasks when nobody uses it, and back up on demand. Scale to
 * zero is on when `scaling.minCapacity` is 0; these options only tune it.
 *
 * Scale-in: when, for `idlePeriod`, every minute has the tasks' own `ActiveConnections` reports at 0 and the
 * load balancer saw no request, a step-scaling policy sets the task count to 0. A minute without
 * connection reports (an image that does not write `ActiveConnections`, or a metric delayed) never counts
 * as idle, so such a service simply stays up.
 *
 * Wake-up: with no task registered, the load balancer answers every request 503 itself. It does not count
 * those in `RequestCount` (that metric counts only requests for which it could choose a target), so the wake
 * alarm reads `HTTPCode_ELB_503_Count` instead; one refused request sets the task count to `wakeCapacity`.
 *
 * What a client sees: 503 (through a CdnFrontDoor, CloudFront passes the 503 on) until the first task is
 * healthy. Clients must retry with backoff and should say so ("starting…"); the example pages do.
 *
 * How long a wake takes, from AWS's published behaviour: the load balancer publishes its metrics in
 * one-minute periods (the datapoint exists about a minute after the request), the alarm evaluates that
 * period (up to a minute more), Application Auto Scaling updates the service (seconds), Fargate pulls the
 * image and starts the task (typically 30-60 s for a small ARM64 image), and the task must pass two
 * `/healthz` checks 10 s apart. Expect 2-4 minutes from the first request to the first served connection;
 * scale to zero suits development and rarely used systems, not interactive production traffic.
 */
export interface ScaleToZeroOptions {
  /**
   * How long the tasks must report no open connection, with no request arriving, before the service
   * scales to zero.
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
