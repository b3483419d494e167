import { Duration, Names, RemovalPolicy, Stack, Token, Tokenization } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as route53targets from 'aws-cdk-lib/aws-route53-targets';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { LoadBalancerExposure } from './load-balancer-exposure';
import { OriginProtectionOptions } from './origin-protection';
import { ScaleToZero } from './scale-to-zero';
import { RealtimeScalingOptions, ScaleToZeroOptions } from './scaling-options';
import { CONNECTION_METRIC, EnvContract } from '../private/env-contract';
import { constructLogGroup } from '../private/log-group';
import { acknowledgeControl, acknowledgeNag } from '../private/nag';
import { enforceRuleQuota } from '../private/rule-quota';
import { acknowledgeAccessLogsBucketControls, enableEventBridgeNotifications } from '../private/s3-buckets';
import { checkInteger, checkSeconds, invalidProp } from '../private/validation';
import { IRealtimeBus } from '../pubsub/realtime-bus';

/** Fargate's hard limit on a container's stopTimeout. */
const FARGATE_MAX_STOP_SECONDS = 120;
/** Time the container keeps after its drain window to flush pending writes before SIGKILL. */
const STOP_MARGIN_SECONDS = 10;
/** Variables the service or a bus sets; a user value would be silently overwritten. */
const CONTRACT_NAMES: string[] = Object.values(EnvContract);
/** CloudFront closes an origin connection that is idle this long, whatever the ALB allows. */
const CLOUDFRONT_ORIGIN_IDLE_SECONDS = 600;

/**
 * Properties of a RealtimeFargateService.
 */
export interface RealtimeFargateServiceProps {
  /**
   * The container image of the realtime server. It must answer `GET /healthz` with 200 while it accepts
   * connections and read the environment contract (`PORT`, `REALTIME_IDLE_TIMEOUT_SECONDS`,
   * `REALTIME_DRAIN_SECONDS`, ...); see README.
   */
  readonly image: ecs.ContainerImage;

  /**
   * The VPC for the load balancer and the tasks. Ignored when `cluster` is given (the cluster's VPC is used).
   *
   * @default - a new VPC over 2 Availability Zones with public subnets (no public address assigned on
   * launch) and private subnets, one NAT gateway and flow logs to CloudWatch Logs
   */
  readonly vpc?: ec2.IVpc;

  /**
   * The ECS cluster to run in.
   *
   * @default - a new cluster in the VPC with Container Insights enabled
   */
  readonly cluster?: ecs.ICluster;

  /**
   * Subnets for the tasks.
   *
   * @default - the VPC's private subnets with egress; its public subnets when `assignPublicIp` is true
   */
  readonly taskSubnets?: ec2.SubnetSelection;

  /**
   * Gives each task a public IPv4 address, so tasks in public subnets pull their image and reach AWS APIs
   * through the internet gateway and the VPC needs no NAT gateway. The tasks' security group still admits
   * only the load balancer, so the address accepts no connection from the internet; each address is billed
   * as a public IPv4 address while its task runs. The tasks must be in public subnets (`taskSubnets`
   * defaults to them): an address in a subnet without a route to an internet gateway carries no traffic.
   *
   * @default false - tasks in private subnets reach the internet through the VPC's NAT gateway
   */
  readonly assignPublicIp?: boolean;

  /**
   * The port the container listens on; passed to it as `PORT`.
   *
   * @default 8080
   */
  readonly containerPort?: number;

  /**
   * CPU units per task (256 = 0.25 vCPU). Must be a Fargate CPU/memory combination.
   *
   * @default 512
   */
  readonly cpu?: number;

  /**
   * Memory per task in MiB. Must be a Fargate CPU/memory combination.
   *
   * @default 1024
   */
  readonly memoryLimitMiB?: number;

  /**
   * CPU architecture of the tasks. Graviton (ARM64) costs about 20 % less per vCPU-hour than x86_64;
   * the image must be built for it.
   *
   * @default ecs.CpuArchitecture.ARM64
   */
  readonly cpuArchitecture?: ecs.CpuArchitecture;

  /**
   * Extra environment variables for the container. Keep secrets out of them: use `secrets`.
   *
   * @default - only the environment contract
   */
  readonly environment?: { [key: string]: string };

  /**
   * Secrets injected into the container at start.
   *
   * @default - none besides those a connected bus adds
   */
  readonly secrets?: { [key: string]: ecs.Secret };

  /**
   * Mount the container's root filesystem read-only. A writable `/tmp` is always mounted.
   *
   * @default true
   */
  readonly readonlyRootFilesystem?: boolean;

  /**
   * The user the container runs as (`uid`, `uid:gid` or a name the image defines). Running as root inside
   * the container widens what a compromised server can do; the image's files must be readable by this user.
   *
   * @default '1000' (the `node` user of the official Node.js images)
   */
  readonly user?: string;

  /**
   * How long the container log group and (when the service creates its VPC) the flow log group keep their
   * events. A year by default: the logs of a public-facing system are its audit trail, and an incident is
   * often found months after it began; CloudWatch Logs storage costs little next to ingestion, which
   * retention does not change.
   *
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * A KMS key that encrypts every log group the service creates: the container logs and, when it creates
   * its VPC, the flow logs. CloudWatch Logs must be allowed to use it: for a key created in this app the
   * service adds the statement AWS documents to its key policy (the `logs.<region>.amazonaws.com`
   * principal, for log groups of this account and region); an imported key's policy must already allow it
   * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html).
   *
   * @default - CloudWatch Logs' own encryption (AWS-owned key)
   */
  readonly logEncryptionKey?: kms.IKey;

  /**
   * What `cdk destroy` (or removing the service from the app) does to the log groups the service creates:
   * the container log group and, when it creates its VPC, the flow log group. `RETAIN` keeps them, and
   * their events until the retention ends, as an audit trail of a system that no longer exists; a
   * retained log group whose name is generated never collides with a new deployment. `DESTROY` deletes
   * them with their events, for development stacks.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly logRemovalPolicy?: RemovalPolicy;

  /**
   * The load balancer's idle timeout: a connection with no traffic for this long is closed. Between 1 s and
   * 4000 s. The container gets min(idleTimeout, 600 s) as `REALTIME_IDLE_TIMEOUT_SECONDS` (600 s is
   * CloudFront's fixed origin idle limit) and must ping its clients well inside it.
   *
   * @default Duration.seconds(120)
   */
  readonly idleTimeout?: Duration;

  /**
   * How long a stopping task has to move its clients elsewhere, at most 120 s (Fargate's stopTimeout limit).
   *
   * ECS first deregisters a stopping task from the target group and waits out the deregistration delay (set
   * to this value) before it sends SIGTERM; during that window the load balancer keeps the task's open
   * sockets but sends it no new ones, and at its end cuts whatever is left. So the container should notice
   * the stop at the start of the window (the example kit polls the ECS task metadata endpoint for
   * `DesiredStatus: STOPPED`) and close its clients with code 1012 spread over `REALTIME_DRAIN_SECONDS`,
   * so they reconnect to other tasks without a thundering herd. After SIGTERM it has stopTimeout, the
   * window plus 10 s (capped at 120 s), to flush pending writes.
   *
   * @default Duration.seconds(30)
   */
  readonly drainTimeout?: Duration;

  /**
   * Turns on load-balancer cookie stickiness for this long. Plain WebSocket clients do not need it (an
   * upgraded connection stays on its task); long-polling fallbacks such as socket.io's do.
   *
   * @default - stickiness off
   */
  readonly stickySessions?: Duration;

  /**
   * The health-check path. It should answer 503 once the task starts draining.
   *
   * @default '/healthz'
   */
  readonly healthCheckPath?: string;

  /**
   * Certificate for an HTTPS listener on port 443; port 80 then only redirects to HTTPS.
   *
   * One of `certificate`, a front door (CdnFrontDoor) or `insecureHttp` is required.
   *
   * @default - no HTTPS listener
   */
  readonly certificate?: acm.ICertificate;

  /**
   * Serve plain HTTP on port 80 to anyone, for development only.
   *
   * @default false
   */
  readonly insecureHttp?: boolean;

  /**
   * The security policy (TLS versions and ciphers) of the HTTPS listener; needs `certificate`.
   *
   * @default elbv2.SslPolicy.RECOMMENDED_TLS (TLS 1.2 and 1.3 only)
   */
  readonly sslPolicy?: elbv2.SslPolicy;

  /**
   * A domain name for the load balancer: an A record aliasing it is created in `domainZone`, as
   * ApplicationLoadBalancedFargateService does. The name must be within the zone, and `certificate` must
   * cover it for clients to connect over HTTPS.
   *
   * @default - no DNS record; clients use the load balancer's DNS name or a front door
   */
  readonly domainName?: string;

  /**
   * The Route 53 hosted zone of `domainName`. Required with `domainName`, and only with it.
   *
   * @default - no DNS record
   */
  readonly domainZone?: route53.IHostedZone;

  /**
   * Put the load balancer in public subnets with an internet-facing scheme. Behind a `CdnFrontDoor`, set
   * false: the front door then reaches the internal load balancer through a CloudFront VPC origin.
   *
   * @default true
   */
  readonly publicLoadBalancer?: boolean;

  /**
   * Turn on the load balancer's deletion protection, so that neither CloudFormation nor anyone else can
   * delete it while it is on. Deleting the load balancer drops every open WebSocket at once, and the one
   * created in its place has a new DNS name, so DNS records, front doors and clients that point at the old
   * one stop working. With protection on, `cdk destroy` fails at the load balancer instead of deleting it:
   * deploy with `false` first to remove the stack on purpose.
   *
   * @default true
   */
  readonly deletionProtection?: boolean;

  /**
   * Bucket for the load balancer's access logs. ALB access logs support only SSE-S3 encryption.
   *
   * @default - a new bucket, SSE-S3 encrypted, TLS-only, public access blocked, versioned, logs expired after
   * 90 days (replaced versions after 1 day), object events sent to EventBridge
   */
  readonly accessLogsBucket?: s3.IBucket;

  /**
   * Whether the load balancer writes access logs. ALB access logging grants delivery to a principal of the
   * stack's region, so a stack without a region (an environment-agnostic stack) must set this to false.
   * Without access logs there is no record of who connected; cdk-nag's ELB2 and Control Tower's
   * CT.ELASTICLOADBALANCING.PR.6, which require them, are acknowledged on the load balancer with this setting as the reason.
   *
   * @default true
   */
  readonly accessLogs?: boolean;

  /**
   * What `cdk destroy` (or removing the service from the app) does to the access-log bucket the service
   * creates (not to a given `accessLogsBucket`). `RETAIN` keeps the bucket and its logs. `DESTROY` deletes
   * the bucket, which CloudFormation can do only when it is empty (every object version included): empty it
   * first, or the deletion of the stack fails at the bucket.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly accessLogsRemovalPolicy?: RemovalPolicy;

  /**
   * Task-count range and scaling targets.
   *
   * @default - 2 to 10 tasks; CPU 60 %, memory 70 %, 5000 connections per task
   */
  readonly scaling?: RealtimeScalingOptions;

  /**
   * Tunes scale to zero, which `scaling.minCapacity: 0` turns on: the idle period before the service
   * stops its last task and how many tasks a request starts. See ScaleToZeroOptions for the wake-up path
   * and what a client sees meanwhile. Setting this without `minCapacity: 0` fails synthesis.
   *
   * @default - 15 idle minutes, 1 task on wake (only with `scaling.minCapacity: 0`)
   */
  readonly scaleToZero?: ScaleToZeroOptions;

  /**
   * A bus to connect the service to, same as calling `bus.connect(this.service)`.
   *
   * @default - not connected
   */
  readonly bus?: IRealtimeBus;

  /**
   * The ECS service name; also the `Service` dimension of the connection metrics.
   *
   * @default - a name unique to this construct's path
   */
  readonly serviceName?: string;

  /**
   * The role the container's code runs as: what `grant*` calls on this service (or on
   * `service.grantPrincipal`) give permissions to. A given role's policies are its owner's to review:
   * the service acknowledges no cdk-nag finding on them.
   *
   * @default - a new role that ECS tasks can assume
   */
  readonly taskRole?: iam.IRole;

  /**
   * The role ECS uses to start the tasks: pull the image, write logs and read `secrets`. It must trust
   * `ecs-tasks.amazonaws.com`. ECS adds what it needs to it; the cdk-nag acknowledgement of
   * `ecr:GetAuthorizationToken` on all resources is made only on a role the service creates.
   *
   * @default - a new role that ECS tasks can assume
   */
  readonly executionRole?: iam.IRole;

  /**
   * Security groups of the tasks. The load balancer is admitted to the container port on each of them.
   *
   * @default - a new security group that admits only the load balancer and allows all outbound traffic
   */
  readonly securityGroups?: ec2.ISecurityGroup[];

  /**
   * Turn on ECS Exec (`aws ecs execute-command`) for the tasks; the task role is then allowed to open the
   * Systems Manager channels it uses. ECS Exec needs a writable root filesystem (its agent writes to it),
   * so this requires `readonlyRootFilesystem: false`, which Control Tower's CT.ECS.PR.6 reports and the
   * service does not acknowledge: under that control, keep ECS Exec for development accounts.
   *
   * @default false
   */
  readonly enableExecuteCommand?: boolean;

  /**
   * Capacity provider strategies of the service, for example
   * `[{ capacityProvider: 'FARGATE_SPOT', weight: 1 }]` for a lean profile (Spot tasks can be stopped with
   * two minutes' notice; the drain window then runs as on any stop). A cluster the service creates gets the
   * `FARGATE` and `FARGATE_SPOT` providers when this is set; a given `ecs.Cluster` must have every named
   * provider (`enableFargateCapacityProviders: true`), or synthesis fails; an imported cluster cannot be
   * checked and must have them, or the deployment fails.
   *
   * @default - the FARGATE launch type
   */
  readonly capacityProviderStrategies?: ecs.CapacityProviderStrategy[];

  /**
   * How long ECS ignores failed load-balancer health checks of a newly started task, so a slow start does
   * not get it replaced.
   *
   * @default Duration.seconds(60)
   */
  readonly healthCheckGracePeriod?: Duration;
}

/**
 * A Fargate service behind an Application Load Balancer, tuned for long-lived WebSocket connections.
 *
 * Secure and connection-friendly defaults: tasks in private subnets on ARM64, an ALB with a 120 s idle
 * timeout that drops invalid headers and logs to an encrypted, TLS-only bucket, a `/healthz` health check,
 * a drain window wired to the deregistration delay and the container's stopTimeout, a deployment circuit
 * breaker with rollback, Container Insights, and scaling on CPU, memory and connections per task with a
 * slow scale-in. The container receives the environment contract (see README).
 *
 * The load balancer must be secured: give a `certificate`, put the service behind a `CdnFrontDoor`, or
 * opt into `insecureHttp` for development; anything else fails synthesis.
 *
 * @example
 * declare const vpc: ec2.IVpc;
 * declare const certificate: acm.ICertificate;
 *
 * const bus = new RedisPubSubBus(this, 'Bus', { vpc });
 * new RealtimeFargateService(this, 'Canvas', {
 *   vpc,
 *   image: ecs.ContainerImage.fromAsset(path.join(__dirname, 'server')),
 *   certificate,
 *   bus,
 *   scaling: { minCapacity: 2, maxCapacity: 20, connectionsPerTask: 5000 },
 *   drainTimeout: Duration.seconds(60),
 * });
 */
export class RealtimeFargateService extends Construct implements ec2.IConnectable, iam.IGrantable {
  /** The VPC of the service. */
  public readonly vpc: ec2.IVpc;
  /** The ECS cluster the service runs in. */
  public readonly cluster: ecs.ICluster;
  /** The task definition. */
  public readonly taskDefinition: ecs.FargateTaskDefinition;
  /** The realtime server container. */
  public readonly container: ecs.ContainerDefinition;
  /** The container log group. */
  public readonly logGroup: logs.ILogGroup;
  /** The ECS service. */
  public readonly service: ecs.FargateService;
  /** The Application Load Balancer. */
  public readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  /** The load balancer's security group. */
  public readonly loadBalancerSecurityGroup: ec2.ISecurityGroup;
  /** The listener that forwards to the tasks: HTTPS on 443 with a certificate, else HTTP on 80. */
  public readonly listener: elbv2.ApplicationListener;
  /** The port of `listener`, the only one a front door admits CloudFront on. */
  public readonly listenerPort: number;
  /** The target group of the tasks. */
  public readonly targetGroup: elbv2.ApplicationTargetGroup;
  /** The bucket the load balancer writes access logs to; undefined with `accessLogs: false`. */
  public readonly accessLogsBucket?: s3.IBucket;
  /** The principal `grant*` calls give permissions to: the task role, which the container's code runs as. */
  public readonly grantPrincipal: iam.IPrincipal;
  /** The A record of `domainName`, when one was given. */
  public readonly domainRecord?: route53.ARecord;
  /** The scalable task count. */
  public readonly scalableTaskCount: ecs.ScalableTaskCount;
  /** The value of the `Service` dimension on this service's connection metrics. */
  public readonly metricsServiceName: string;
  /** The ECS service's network connections (its security group). */
  public readonly connections: ec2.Connections;
  /** The protocol the load balancer serves on `listener`. */
  public readonly listenerProtocol: elbv2.ApplicationProtocol;
  /** Whether the load balancer is internet-facing (else internal, reachable from the VPC only). */
  public readonly internetFacing: boolean;
  /** The idle timeout the container must keep its pings inside, in seconds. */
  public readonly keepaliveBoundSeconds: number;

  /** In alarm while the service is idle, when `scaling.minCapacity` is 0: its action stops the last task. */
  public readonly idleAlarm?: cloudwatch.Alarm;
  /** In alarm while the load balancer refuses requests for want of a task, when `scaling.minCapacity` is 0: its action starts tasks. */
  public readonly wakeAlarm?: cloudwatch.Alarm;

  private readonly settings: Settings;
  private readonly exposure: LoadBalancerExposure;

  constructor(scope: Construct, id: string, props: RealtimeFargateServiceProps) {
    super(scope, id);
    this.settings = this.validateProps(props);
    this.metricsServiceName = props.serviceName ?? Names.uniqueResourceName(this, { maxLength: 64 });
    // An idle timeout from a token (a parameter, say) is passed on as it is: its cap is the deployer's to keep.
    this.keepaliveBoundSeconds = Token.isUnresolved(this.settings.idleTimeoutSeconds)
      ? this.settings.idleTimeoutSeconds
      : Math.min(this.settings.idleTimeoutSeconds, CLOUDFRONT_ORIGIN_IDLE_SECONDS);

    this.cluster = props.cluster ?? this.createCluster(props.vpc ?? this.createVpc(props), props);
    this.vpc = this.cluster.vpc;

    this.logGroup = constructLogGroup(this, 'Logs', {
      retention: props.logRetention,
      encryptionKey: props.logEncryptionKey,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.taskDefinition = this.createTaskDefinition(props);
    this.grantPrincipal = this.taskDefinition.taskRole;
    this.container = this.createContainer(props);

    this.internetFacing = props.publicLoadBalancer ?? true;
    if (props.accessLogs ?? true) {
      this.accessLogsBucket = props.accessLogsBucket ?? this.createAccessLogsBucket(props);
    }
    this.loadBalancerSecurityGroup = new ec2.SecurityGroup(this, 'LoadBalancerSecurityGroup', {
      vpc: this.vpc,
      description: `Load balancer of ${this.node.path}`,
      allowAllOutbound: false,
    });
    this.loadBalancer = this.createLoadBalancer(props);
    this.targetGroup = this.createTargetGroup(props);
    this.exposure = new LoadBalancerExposure(this, {
      loadBalancer: this.loadBalancer,
      internetFacing: this.internetFacing,
      securityGroup: this.loadBalancerSecurityGroup,
      targetGroup: this.targetGroup,
      certificate: props.certificate,
      sslPolicy: props.sslPolicy,
      insecureHttp: props.insecureHttp ?? false,
    });
    if (props.domainName !== undefined && props.domainZone) {
      this.domainRecord = new route53.ARecord(this, 'DomainRecord', {
        zone: props.domainZone,
        recordName: props.domainName,
        target: route53.RecordTarget.fromAlias(new route53targets.LoadBalancerTarget(this.loadBalancer)),
      });
    }
    this.listener = this.exposure.listener;
    this.listenerProtocol = this.exposure.protocol;
    this.listenerPort = this.exposure.port;

    this.service = this.createService(props);
    this.connections = this.service.connections;
    this.scalableTaskCount = this.configureScaling(props);
    if (this.settings.minCapacity === 0) {
      const scaleToZero = this.configureScaleToZero(props.scaleToZero ?? {});
      this.idleAlarm = scaleToZero.idleAlarm;
      this.wakeAlarm = scaleToZero.wakeAlarm;
    }
    for (const group of [this.loadBalancerSecurityGroup, ...this.connections.securityGroups]) {
      enforceRuleQuota(group);
    }

    props.bus?.connect(this.service);
    this.acknowledgeFindings(props);
    this.node.addValidation({ validate: () => this.validateExposure(props) });
  }

  /**
   * Closes the load balancer to everything but CloudFront's origin-facing prefix list (of the service's
   * region, on the forwarding listener's port only) and, when a header is given, answers 403 to any
   * request without it. `CdnFrontDoor` calls this; a service protected this way needs neither a
   * certificate nor `insecureHttp`.
   */
  public addOriginProtection(options: OriginProtectionOptions): void {
    this.exposure.protect(options);
  }

  /** True once a front door protects this service's origin. */
  public get isFronted(): boolean {
    return this.exposure.protectedBy !== undefined;
  }

  /**
   * Open WebSocket connections per task, from the `ActiveConnections` embedded-metric line each task
   * writes. Statistic `Average` gives connections per task; `Sum` gives the service total.
   *
   * @default - average over 1 minute
   */
  public metricActiveConnections(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metricFromContainer(CONNECTION_METRIC.metricName, { statistic: 'Average', ...props });
  }

  /**
   * A metric the container emits as an embedded-metric line in namespace `CdkRealtime` with dimension
   * `Service` (the example kit also emits `MessagesIn`, `MessagesOut` and `Errors`).
   *
   * @default - sum over 1 minute
   */
  public metricFromContainer(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: CONNECTION_METRIC.namespace,
      metricName,
      dimensionsMap: { [CONNECTION_METRIC.dimension]: this.metricsServiceName },
      statistic: 'Sum',
      period: Duration.minutes(1),
      ...props,
    });
  }

  /**
   * New connections accepted by the load balancer.
   *
   * @default - sum over 1 minute
   */
  public metricNewConnections(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.loadBalancer.metrics.newConnectionCount({ statistic: 'Sum', period: Duration.minutes(1), ...props });
  }

  /**
   * Requests the load balancer received (WebSocket upgrades included).
   *
   * @default - sum over 1 minute
   */
  public metricRequestCount(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.loadBalancer.metrics.requestCount({ statistic: 'Sum', period: Duration.minutes(1), ...props });
  }

  /**
   * Healthy tasks in the target group.
   *
   * @default - minimum over 1 minute
   */
  public metricHealthyTaskCount(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.targetGroup.metrics.healthyHostCount({ statistic: 'Minimum', period: Duration.minutes(1), ...props });
  }

  /**
   * Load-balancer 5xx answers (for example 502 when a task dies mid-request, 503 with no task).
   *
   * @default - sum over 1 minute
   */
  public metricLoadBalancer5xx(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.loadBalancer.metrics.httpCodeElb(elbv2.HttpCodeElb.ELB_5XX_COUNT, { statistic: 'Sum', period: Duration.minutes(1), ...props });
  }

  /**
   * CPU utilization of the service.
   *
   * @default - average over 5 minutes
   */
  public metricCpuUtilization(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.service.metricCpuUtilization({ statistic: 'Average', period: Duration.minutes(5), ...props });
  }

  /**
   * Memory utilization of the service.
   *
   * @default - average over 5 minutes
   */
  public metricMemoryUtilization(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.service.metricMemoryUtilization({ statistic: 'Average', period: Duration.minutes(5), ...props });
  }

  private validateProps(props: RealtimeFargateServiceProps): Settings {
    const idleTimeout = props.idleTimeout ?? Duration.seconds(120);
    const drainTimeout = props.drainTimeout ?? Duration.seconds(30);
    // A token (a CloudFormation parameter, say) is checked by the deployment, not here; it must be in seconds.
    const idleTimeoutSeconds = checkSeconds(this, 'idleTimeout', idleTimeout, 1, 4000, 'the ALB') ?? idleTimeout.toSeconds();
    const drainSeconds = checkSeconds(this, 'drainTimeout', drainTimeout, 0, FARGATE_MAX_STOP_SECONDS, "Fargate's stopTimeout") ?? drainTimeout.toSeconds();
    if (props.stickySessions) {
      checkSeconds(this, 'stickySessions', props.stickySessions, 1, 7 * 24 * 3600, 'ALB stickiness');
    }
    if (props.healthCheckGracePeriod) {
      // ECS takes HealthCheckGracePeriodSeconds up to 2,147,483,647 (AWS::ECS::Service).
      checkSeconds(this, 'healthCheckGracePeriod', props.healthCheckGracePeriod, 0, 2_147_483_647, 'ECS health-check grace period');
    }
    this.validateParityProps(props);
    checkInteger(this, 'containerPort', props.containerPort, 1, 65535);
    if (props.certificate && props.insecureHttp) {
      invalidProp(this, 'insecureHttp', true, 'contradicts certificate', 'remove insecureHttp to serve HTTPS, or remove certificate for a development stack');
    }
    for (const name of Object.keys(props.environment ?? {})) {
      if (CONTRACT_NAMES.includes(name)) {
        invalidProp(this, `environment.${name}`, props.environment![name], 'is part of the environment contract this construct sets',
          'remove it; use containerPort, idleTimeout, drainTimeout or connect a bus instead');
      }
    }
    if (props.vpc && props.cluster) {
      invalidProp(this, 'vpc', props.vpc.node.path, 'is ignored when cluster is given', "remove vpc; the cluster's VPC is used");
    }
    return { idleTimeoutSeconds, drainSeconds, ...this.validateScaling(props.scaling ?? {}, props.scaleToZero) };
  }

  private validateParityProps(props: RealtimeFargateServiceProps): void {
    if (props.sslPolicy && !props.certificate) {
      invalidProp(this, 'sslPolicy', props.sslPolicy, 'applies to the HTTPS listener, which only a certificate creates', 'give certificate, or remove sslPolicy');
    }
    if (props.domainName !== undefined && !props.domainZone) {
      invalidProp(this, 'domainName', props.domainName, 'needs domainZone for its A record', 'give the Route 53 hosted zone of the name as domainZone');
    }
    if (props.domainZone && props.domainName === undefined) {
      invalidProp(this, 'domainZone', props.domainZone.node.path, 'is used only with domainName', 'give domainName, or remove domainZone');
    }
    if (props.accessLogs === false && props.accessLogsBucket) {
      invalidProp(this, 'accessLogsBucket', props.accessLogsBucket.node.path, 'contradicts accessLogs: false', 'remove accessLogsBucket, or accessLogs: false to keep access logs');
    }
    if (props.accessLogs === false && props.accessLogsRemovalPolicy) {
      invalidProp(this, 'accessLogsRemovalPolicy', props.accessLogsRemovalPolicy, 'applies to the access-log bucket, which accessLogs: false does not create', 'remove accessLogsRemovalPolicy');
    }
    if (props.accessLogsBucket && props.accessLogsRemovalPolicy) {
      invalidProp(this, 'accessLogsRemovalPolicy', props.accessLogsRemovalPolicy, 'applies only to a bucket the service creates, not to the given accessLogsBucket',
        'set the removal policy on the given bucket, or remove accessLogsRemovalPolicy');
    }
    for (const [prop, policy] of [['logRemovalPolicy', props.logRemovalPolicy], ['accessLogsRemovalPolicy', props.accessLogsRemovalPolicy]] as const) {
      // CloudFormation takes the Snapshot deletion policy only on resources that have snapshots:
      // https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-deletionpolicy.html
      if (policy === RemovalPolicy.SNAPSHOT) {
        invalidProp(this, prop, policy, 'is not supported by log groups or buckets, which have no snapshots', 'use RETAIN, RETAIN_ON_UPDATE_OR_DELETE or DESTROY');
      }
    }
    if (props.enableExecuteCommand && (props.readonlyRootFilesystem ?? true)) {
      invalidProp(this, 'enableExecuteCommand', true, 'needs a writable root filesystem, where the ECS Exec agent writes its state and logs',
        'set readonlyRootFilesystem: false as well, or remove enableExecuteCommand');
    }
    if (props.capacityProviderStrategies?.length === 0) {
      invalidProp(this, 'capacityProviderStrategies', '[]', 'is empty', "name at least one provider, e.g. [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }], or remove it to use the FARGATE launch type");
    }
    const cluster = props.cluster;
    if (props.capacityProviderStrategies && cluster instanceof ecs.Cluster) {
      const strategies = props.capacityProviderStrategies;
      // Checked at synthesis: enableFargateCapacityProviders() may be called on the cluster after this service is made.
      this.node.addValidation({
        validate: () => strategies
          .map(s => s.capacityProvider)
          .filter(name => !Token.isUnresolved(name) && !cluster.capacityProviderNames.includes(name))
          .map(name => `${this.node.path}: capacityProviderStrategies names '${name}', which cluster ${cluster.node.path} does not have; `
            + (name === 'FARGATE' || name === 'FARGATE_SPOT'
              ? 'create the cluster with enableFargateCapacityProviders: true (or call cluster.enableFargateCapacityProviders())'
              : 'add the capacity provider to the cluster, or remove it from the strategies')),
      });
    }
  }

  private validateScaling(scaling: RealtimeScalingOptions, scaleToZero: ScaleToZeroOptions | undefined): ScalingSettings {
    const minCapacity = scaling.minCapacity ?? 2;
    const maxCapacity = scaling.maxCapacity ?? Math.max(10, minCapacity);
    checkInteger(this, 'scaling.minCapacity', minCapacity, 0, 5000);
    checkInteger(this, 'scaling.maxCapacity', maxCapacity, 1, 5000);
    if (minCapacity > maxCapacity) {
      invalidProp(this, 'scaling.minCapacity', minCapacity, `is greater than scaling.maxCapacity ${maxCapacity}`, 'raise maxCapacity or lower minCapacity');
    }
    if (scaleToZero && minCapacity > 0) {
      invalidProp(this, 'scaleToZero', `{${Object.keys(scaleToZero).join(', ')}}`, `only tunes scale to zero, which is off while scaling.minCapacity is ${minCapacity}`,
        'set scaling.minCapacity to 0 to scale to zero when idle, or remove scaleToZero');
    }
    checkInteger(this, 'scaling.targetCpuUtilizationPercent', scaling.targetCpuUtilizationPercent, 1, 100);
    checkInteger(this, 'scaling.targetMemoryUtilizationPercent', scaling.targetMemoryUtilizationPercent, 1, 100);
    checkInteger(this, 'scaling.connectionsPerTask', scaling.connectionsPerTask, 1, 1_000_000);
    if (minCapacity === 0) {
      const idle = scaleToZero?.idlePeriod ?? Duration.minutes(15);
      const seconds = checkSeconds(this, 'scaleToZero.idlePeriod', idle, 60, 86_400, 'CloudWatch alarm evaluation');
      if (seconds !== undefined && seconds % 60 !== 0) {
        invalidProp(this, 'scaleToZero.idlePeriod', idle, 'is not whole minutes', 'use whole minutes (alarm periods are 60 s)');
      }
      checkInteger(this, 'scaleToZero.wakeCapacity', scaleToZero?.wakeCapacity, 1, maxCapacity);
    }
    return { minCapacity, maxCapacity };
  }

  private validateExposure(props: RealtimeFargateServiceProps): string[] {
    if (props.certificate || props.insecureHttp || this.isFronted) {
      return [];
    }
    return [`${this.node.path}: certificate is not set, no front door routes to the service and insecureHttp is not set, so the load balancer would serve plain HTTP to the internet; `
      + 'give a certificate, route a CdnFrontDoor to this service, or set insecureHttp: true for a development stack'];
  }

  private createVpc(props: RealtimeFargateServiceProps): ec2.IVpc {
    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 1,
      subnetConfiguration: [
        // The load balancer and the NAT gateway get their own addresses; nothing launched here needs one
        // assigned on launch (Control Tower CT.EC2.PR.11).
        { name: 'Public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: false },
        { name: 'Private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
      ],
    });
    vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(constructLogGroup(this, 'FlowLogs', {
        retention: props.logRetention,
        encryptionKey: props.logEncryptionKey,
        removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
      })),
    });
    return vpc;
  }

  private createCluster(vpc: ec2.IVpc, props: RealtimeFargateServiceProps): ecs.ICluster {
    return new ecs.Cluster(this, 'Cluster', {
      vpc,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
      enableFargateCapacityProviders: props.capacityProviderStrategies !== undefined ? true : undefined,
    });
  }

  private createTaskDefinition(props: RealtimeFargateServiceProps): ecs.FargateTaskDefinition {
    return new ecs.FargateTaskDefinition(this, 'TaskDefinition', {
      cpu: props.cpu ?? 512,
      memoryLimitMiB: props.memoryLimitMiB ?? 1024,
      runtimePlatform: {
        cpuArchitecture: props.cpuArchitecture ?? ecs.CpuArchitecture.ARM64,
        operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
      },
      volumes: [{ name: 'tmp' }],
      taskRole: props.taskRole,
      executionRole: props.executionRole,
    });
  }

  private createContainer(props: RealtimeFargateServiceProps): ecs.ContainerDefinition {
    const port = props.containerPort ?? 8080;
    const container = this.taskDefinition.addContainer('Server', {
      image: props.image,
      essential: true,
      readonlyRootFilesystem: props.readonlyRootFilesystem ?? true,
      user: props.user ?? '1000',
      // A hard limit equal to the task's memory: the container is stopped rather than starving others.
      memoryLimitMiB: props.memoryLimitMiB ?? 1024,
      // A drain window from a token cannot be added to at synth time: the task then gets Fargate's maximum.
      stopTimeout: Duration.seconds(Token.isUnresolved(this.settings.drainSeconds)
        ? FARGATE_MAX_STOP_SECONDS
        : Math.min(this.settings.drainSeconds + STOP_MARGIN_SECONDS, FARGATE_MAX_STOP_SECONDS)),
      logging: ecs.LogDrivers.awsLogs({ logGroup: this.logGroup, streamPrefix: 'server' }),
      portMappings: [{ containerPort: port, protocol: ecs.Protocol.TCP, name: 'http' }],
      environment: {
        ...props.environment,
        [EnvContract.PORT]: String(port),
        [EnvContract.IDLE_TIMEOUT_SECONDS]: Tokenization.stringifyNumber(this.keepaliveBoundSeconds),
        [EnvContract.DRAIN_SECONDS]: Tokenization.stringifyNumber(this.settings.drainSeconds),
        [EnvContract.METRICS_NAMESPACE]: CONNECTION_METRIC.namespace,
        [EnvContract.METRICS_SERVICE]: this.metricsServiceName,
      },
      secrets: props.secrets,
    });
    container.addMountPoints({ sourceVolume: 'tmp', containerPath: '/tmp', readOnly: false });
    return container;
  }

  private createAccessLogsBucket(props: RealtimeFargateServiceProps): s3.Bucket {
    const bucket = new s3.Bucket(this, 'AccessLogs', {
      // ALB access logs can be delivered only to buckets encrypted with SSE-S3:
      // https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      lifecycleRules: [{ expiration: Duration.days(90), noncurrentVersionExpiration: Duration.days(1) }],
      removalPolicy: props.accessLogsRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
    enableEventBridgeNotifications(bucket);
    return bucket;
  }

  private createLoadBalancer(props: RealtimeFargateServiceProps): elbv2.ApplicationLoadBalancer {
    const loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'LoadBalancer', {
      vpc: this.vpc,
      internetFacing: this.internetFacing,
      securityGroup: this.loadBalancerSecurityGroup,
      idleTimeout: Duration.seconds(this.settings.idleTimeoutSeconds),
      dropInvalidHeaderFields: true,
      http2Enabled: true,
      deletionProtection: props.deletionProtection ?? true,
    });
    if (!this.accessLogsBucket) {
      return loadBalancer;
    }
    if (Token.isUnresolved(Stack.of(this).region)) {
      throw new Error(`${this.node.path}: the stack has no region, which ALB access logging needs (log delivery is granted to a region-specific principal); `
        + "set env: { region: 'us-east-1' } (or process.env.CDK_DEFAULT_REGION) on the stack, or set accessLogs: false to run without load-balancer access logs");
    }
    loadBalancer.logAccessLogs(this.accessLogsBucket, Names.uniqueId(this));
    return loadBalancer;
  }

  private createTargetGroup(props: RealtimeFargateServiceProps): elbv2.ApplicationTargetGroup {
    return new elbv2.ApplicationTargetGroup(this, 'TargetGroup', {
      vpc: this.vpc,
      port: props.containerPort ?? 8080,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targetType: elbv2.TargetType.IP,
      deregistrationDelay: Duration.seconds(this.settings.drainSeconds),
      stickinessCookieDuration: props.stickySessions,
      healthCheck: {
        path: props.healthCheckPath ?? '/healthz',
        healthyHttpCodes: '200',
        interval: Duration.seconds(10),
        timeout: Duration.seconds(5),
        healthyThresholdCount: 2,
        unhealthyThresholdCount: 3,
      },
    });
  }

  private createService(props: RealtimeFargateServiceProps): ecs.FargateService {
    const service = new ecs.FargateService(this, 'Service', {
      cluster: this.cluster,
      taskDefinition: this.taskDefinition,
      serviceName: props.serviceName,
      // No DesiredCount: Application Auto Scaling owns the task count, and a count in the template would
      // reset it on every update, stopping tasks scaled out above it. CloudFormation starts a new service
      // with 1 task and the scalable target's minimum raises it (AWS::ECS::Service DesiredCount).
      desiredCount: undefined,
      vpcSubnets: this.taskSubnets(props),
      assignPublicIp: props.assignPublicIp ?? false,
      // Start new tasks before stopping old ones so a deploy never drops below the running capacity.
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      circuitBreaker: { enable: true, rollback: true },
      healthCheckGracePeriod: props.healthCheckGracePeriod ?? Duration.seconds(60),
      propagateTags: ecs.PropagatedTagSource.SERVICE,
      securityGroups: props.securityGroups,
      enableExecuteCommand: props.enableExecuteCommand ?? false,
      capacityProviderStrategies: props.capacityProviderStrategies,
    });
    this.targetGroup.addTarget(service.loadBalancerTarget({
      containerName: this.container.containerName,
      containerPort: props.containerPort ?? 8080,
    }));
    return service;
  }

  /** The tasks' subnets; with `assignPublicIp` they must all be public, or the addresses would carry nothing. */
  private taskSubnets(props: RealtimeFargateServiceProps): ec2.SubnetSelection {
    const publicIp = props.assignPublicIp ?? false;
    const selection = props.taskSubnets ?? { subnetType: publicIp ? ec2.SubnetType.PUBLIC : ec2.SubnetType.PRIVATE_WITH_EGRESS };
    if (publicIp) {
      const publicIds = new Set(this.vpc.publicSubnets.map(s => s.subnetId));
      const notPublic = this.vpc.selectSubnets(selection).subnets.filter(s => !publicIds.has(s.subnetId));
      if (notPublic.length > 0) {
        invalidProp(this, 'taskSubnets', notPublic.map(s => s.node.path).join(', '),
          'selects subnets that are not public, where a task\'s public address has no route to the internet gateway',
          'select public subnets (subnetType: ec2.SubnetType.PUBLIC, the default with assignPublicIp), or remove assignPublicIp to use private subnets with a NAT gateway');
      }
    }
    return selection;
  }

  private configureScaling(props: RealtimeFargateServiceProps): ecs.ScalableTaskCount {
    const scaling = props.scaling ?? {};
    const taskCount = this.service.autoScaleTaskCount({
      minCapacity: this.settings.minCapacity,
      maxCapacity: this.settings.maxCapacity,
    });
    const cooldowns = {
      scaleInCooldown: scaling.scaleInCooldown ?? Duration.minutes(5),
      scaleOutCooldown: scaling.scaleOutCooldown ?? Duration.minutes(1),
    };
    taskCount.scaleOnCpuUtilization('Cpu', { targetUtilizationPercent: scaling.targetCpuUtilizationPercent ?? 60, ...cooldowns });
    taskCount.scaleOnMemoryUtilization('Memory', { targetUtilizationPercent: scaling.targetMemoryUtilizationPercent ?? 70, ...cooldowns });
    taskCount.scaleToTrackCustomMetric('Connections', {
      metric: this.metricActiveConnections(),
      targetValue: scaling.connectionsPerTask ?? 5000,
      ...cooldowns,
    });
    return taskCount;
  }

  private configureScaleToZero(options: ScaleToZeroOptions): ScaleToZero {
    return new ScaleToZero(this, 'ScaleToZero', {
      taskCount: this.scalableTaskCount,
      idlePeriod: options.idlePeriod ?? Duration.minutes(15),
      wakeCapacity: options.wakeCapacity ?? 1,
      connections: this.metricActiveConnections({ statistic: 'Maximum' }),
      requests: this.metricRequestCount(),
      refusals: this.loadBalancer.metrics.httpCodeElb(elbv2.HttpCodeElb.ELB_503_COUNT, { statistic: 'Sum', period: Duration.minutes(1) }),
    });
  }

  private acknowledgeFindings(props: RealtimeFargateServiceProps): void {
    if (!props.environment || Object.keys(props.environment).length === 0) {
      acknowledgeNag(this.taskDefinition, 'ECS2',
        'The container environment holds only the non-secret environment contract (port, idle timeout, drain window, metric names and bus endpoint); credentials are injected from Secrets Manager as ECS secrets.');
    }
    if (this.accessLogsBucket?.node.scope === this) {
      acknowledgeNag(this.accessLogsBucket, 'S1',
        'This bucket is itself the destination of the load balancer access logs; logging its own access would need another log bucket without adding an audit trail for the service.');
      acknowledgeAccessLogsBucketControls(this.accessLogsBucket);
      acknowledgeControl(this.accessLogsBucket, 's3_bucket_default_encryption_kms_check',
        'Application Load Balancer access logs can be delivered only to buckets encrypted with SSE-S3, which this bucket uses.');
    }
    if (!this.accessLogsBucket) {
      acknowledgeNag(this.loadBalancer, 'ELB2',
        'accessLogs: false was set, so this load balancer writes no access logs, for example in a stack without a region, where ALB log delivery cannot be granted.');
      acknowledgeControl(this.loadBalancer, 'elbv2_logging_enabled_check',
        'accessLogs: false was set, so this load balancer writes no access logs, for example in a stack without a region, where ALB log delivery cannot be granted.');
    }
    if (props.assignPublicIp) {
      acknowledgeControl(this.service, 'ecs_service_assign_public_ip_disabled_check',
        'assignPublicIp was set so that the tasks reach AWS APIs and the image registry through the internet gateway without a NAT gateway; their security group admits only the load balancer, so no connection from the internet reaches a task.');
    }
    const taskPolicy = props.taskRole ? undefined : this.taskDefinition.taskRole.node.tryFindChild('DefaultPolicy');
    if (props.enableExecuteCommand && taskPolicy) {
      acknowledgeNag(taskPolicy, 'IAM5[Resource::*]',
        'enableExecuteCommand was set: ECS Exec opens Systems Manager channels (ssmmessages:*Channel), which support no resource-level permissions and must be granted on all resources.');
    }
    const executionPolicy = props.executionRole ? undefined : this.taskDefinition.executionRole?.node.tryFindChild('DefaultPolicy');
    if (executionPolicy) {
      acknowledgeNag(executionPolicy, 'IAM5[Resource::*]',
        'ecr:GetAuthorizationToken, which ECS needs to pull the image, does not support resource-level permissions and must be granted on all resources.');
    }
  }
}

/** Validated values the wiring methods share. */
interface Settings extends ScalingSettings {
  readonly idleTimeoutSeconds: number;
  readonly drainSeconds: number;
}

interface ScalingSettings {
  readonly minCapacity: number;
  readonly maxCapacity: number;
}
