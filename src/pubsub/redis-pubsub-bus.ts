import { Annotations, Duration, Fn, Names, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elasticache from 'aws-cdk-lib/aws-elasticache';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct, IConstruct } from 'constructs';
import { BusEngine } from './bus-engine';
import { BusMode, ProvisionedBusOptions, ServerlessBusOptions } from './bus-mode';
import { BusMetricOptions, NodeAggregation } from './node-aggregation';
import { IRealtimeBus } from './realtime-bus';
import { EnvContract } from '../private/env-contract';
import { constructLogGroup } from '../private/log-group';
import { acknowledgeNag } from '../private/nag';
import { enforceRuleQuota } from '../private/rule-quota';
import { checkInteger, invalidProp } from '../private/validation';

/** Serverless caches listen on 6379 (and 6380 for reads from replicas); the port cannot be chosen. */
const SERVERLESS_PORT = 6379;

/**
 * Properties of a RedisPubSubBus.
 */
export interface RedisPubSubBusProps {
  /** The VPC the cache lives in. */
  readonly vpc: ec2.IVpc;

  /**
   * Provisioned replication group or serverless cache.
   *
   * @default BusMode.provisioned() - one primary and one replica in different Availability Zones, automatic failover
   */
  readonly mode?: BusMode;

  /**
   * Engine and version.
   *
   * @default BusEngine.VALKEY_8
   */
  readonly engine?: BusEngine;

  /**
   * The port of a provisioned cache. A non-default port turns away scanners that look for 6379.
   * Serverless caches always listen on 6379, so this cannot be set with `BusMode.serverless()`.
   *
   * @default 6390
   */
  readonly port?: number;

  /**
   * Subnets for the cache.
   *
   * @default - the VPC's isolated subnets when it has any, else its private subnets with egress
   */
  readonly vpcSubnets?: ec2.SubnetSelection;

  /**
   * Customer managed key for encryption at rest (which is always on) and for the AUTH token secret.
   *
   * @default - AWS owned keys
   */
  readonly encryptionKey?: kms.IKey;

  /**
   * Days to keep daily snapshots, 1 to 35.
   *
   * @default 7
   */
  readonly snapshotRetentionDays?: number;

  /**
   * What happens to the cache when it leaves the stack or the stack is destroyed (`cdk destroy`).
   *
   * A provisioned cache takes `RemovalPolicy.SNAPSHOT` (CloudFormation takes a final snapshot, then deletes
   * the replication group), `RETAIN` or `DESTROY`. A serverless cache takes `RETAIN` or `DESTROY` only:
   * CloudFormation's Snapshot deletion policy does not apply to `AWS::ElastiCache::ServerlessCache`.
   *
   * @default RemovalPolicy.SNAPSHOT for a provisioned cache (`cdk destroy` leaves a final snapshot);
   * RemovalPolicy.RETAIN for a serverless cache (`cdk destroy` leaves the cache running, and billed, until
   * you delete it)
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * What happens to the log group of the slow and engine logs (provisioned caches) when it leaves the stack
   * or the stack is destroyed.
   *
   * @default RemovalPolicy.RETAIN - `cdk destroy` leaves the log group, so the audit trail outlives the cache;
   * its events still expire after `logRetention`
   */
  readonly logRemovalPolicy?: RemovalPolicy;

  /**
   * How long the cache's slow log and engine log are kept in CloudWatch Logs (provisioned caches). A year
   * by default: the logs of a public-facing system are its audit trail, and an incident is often found
   * months after it began; CloudWatch Logs storage costs little next to ingestion, which retention does
   * not change.
   *
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * A KMS key that encrypts the log group of the cache's slow and engine logs (provisioned caches).
   * CloudWatch Logs must be allowed to use it: for a key created in this app the bus adds the statement
   * AWS documents to its key policy (the `logs.<region>.amazonaws.com` principal, for log groups of this
   * account and region); an imported key's policy must already allow it
   * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html).
   *
   * @default - CloudWatch Logs' own encryption (AWS-owned key)
   */
  readonly logEncryptionKey?: kms.IKey;
}

/**
 * A RedisPubSubBus, created in this app or imported with `RedisPubSubBus.fromRedisPubSubBusAttributes`.
 */
export interface IRedisPubSubBus extends IConstruct, ec2.IConnectable, IRealtimeBus {
  /** `rediss://host:port` of the endpoint; holds no secret. */
  readonly url: string;
  /** Hostname of the primary (or serverless) endpoint. */
  readonly endpointAddress: string;
  /** Port of the endpoint. */
  readonly port: number;
  /** True when the endpoint is cluster mode (serverless): clients must use sharded pub/sub. */
  readonly isClusterMode: boolean;
  /** The secret holding the AUTH token. */
  readonly authSecret: secretsmanager.ISecret;

  /**
   * Lets a Lambda function in the bus's VPC use the bus: opens the cache port to the function's security
   * groups (the rule lives in the function's stack), sets `REALTIME_BUS_URL`, `REALTIME_BUS_CLUSTER` and
   * `REALTIME_BUS_AUTH_SECRET_ARN` (Lambda cannot take ECS secrets, so the function reads the token from
   * Secrets Manager at cold start) and grants it read of the secret. An alias or version sets the
   * variables on its function; a function whose environment cannot be changed here (an imported one) gets
   * the network and the grant, and a synth warning names the variables to set yourself.
   */
  connectFunction(fn: lambda.IFunction): void;

  /**
   * Grants read of the AUTH token (`secretsmanager:GetSecretValue` and `DescribeSecret` on the secret, and
   * decrypt through Secrets Manager when the secret has a customer managed key).
   */
  grantReadAuthToken(grantee: iam.IGrantable): iam.Grant;
}

/**
 * What `RedisPubSubBus.fromRedisPubSubBusAttributes` needs to use a bus defined elsewhere (another app, or
 * a stack that exports these values).
 */
export interface RedisPubSubBusAttributes {
  /**
   * ID of the cache's security group. Give this or `securityGroup`, not both.
   *
   * @default - `securityGroup` is used
   */
  readonly securityGroupId?: string;

  /**
   * The cache's security group. Give this or `securityGroupId`, not both.
   *
   * @default - imported from `securityGroupId`
   */
  readonly securityGroup?: ec2.ISecurityGroup;

  /** Hostname of the primary (or serverless) endpoint. */
  readonly endpointAddress: string;

  /** Port of the endpoint (6379 for a serverless cache). */
  readonly port: number;

  /** The secret holding the AUTH token. */
  readonly authSecret: secretsmanager.ISecret;

  /**
   * Whether the endpoint is cluster mode: true for a serverless cache (clients must use sharded pub/sub),
   * false for a provisioned one with cluster mode disabled. Required, because clients that get it wrong
   * fail only at run time.
   */
  readonly isClusterMode: boolean;
}

/**
 * Shared state and pub/sub for realtime services on ElastiCache for Valkey (or Redis OSS).
 *
 * This is the replication-group L2 that aws-cdk-lib lacks, for the realtime case: TLS in transit and
 * encryption at rest always on, an AUTH token generated into Secrets Manager, a non-default port,
 * snapshots kept, private subnets, and a security group that admits nothing until a service or function
 * is connected. `connect` and `connectFunction` open exactly the port, inject the endpoint and the token
 * (as an ECS secret, never a plain environment variable) and grant read of the secret. The bus can live in
 * a data stack and its consumers in app stacks: the rules and grants are created on the consumer's side, so
 * references point from the app stacks to the data stack only.
 *
 * A serverless bus is always cluster mode: it sets `REALTIME_BUS_CLUSTER=true` so clients use sharded
 * pub/sub. Serverless caches take no AUTH token; the bus gives them a user group whose `default` user has
 * the generated token as its password, so `AUTH <token>` works the same in both modes.
 *
 * @example
 * declare const vpc: ec2.IVpc;
 * declare const service: ecs.FargateService;
 *
 * const bus = new RedisPubSubBus(this, 'Bus', { vpc });
 * bus.connect(service);
 * const serverlessBus = new RedisPubSubBus(this, 'ServerlessBus', {
 *   vpc,
 *   mode: BusMode.serverless({ maxEcpuPerSecond: 100_000 }),
 * });
 */
export class RedisPubSubBus extends Construct implements IRedisPubSubBus {
  /**
   * Uses a bus defined elsewhere. Its `connect` and `connectFunction` work as on a created bus: the
   * ingress rule is created in the consumer's stack (or beside the imported security group, when that is
   * in the consumer's stack), never in the stack that owns the cache.
   */
  public static fromRedisPubSubBusAttributes(scope: Construct, id: string, attrs: RedisPubSubBusAttributes): IRedisPubSubBus {
    return new ImportedRedisPubSubBus(scope, id, attrs);
  }

  /** The security group of the cache; it admits only what was connected. */
  public readonly securityGroup: ec2.ISecurityGroup;
  /** Network connections of the cache (its security group and port). */
  public readonly connections: ec2.Connections;
  /** The secret holding the AUTH token. */
  public readonly authSecret: secretsmanager.ISecret;
  /** The engine and version. */
  public readonly engine: BusEngine;
  /** True when the endpoint is cluster mode (serverless): clients must use sharded pub/sub. */
  public readonly isClusterMode: boolean;
  /** Hostname of the primary (or serverless) endpoint. */
  public readonly endpointAddress: string;
  /** Port of the endpoint. */
  public readonly port: number;
  /** `rediss://host:port` of the endpoint; holds no secret. */
  public readonly url: string;
  /** The replication group, for a provisioned bus. */
  public readonly replicationGroup?: elasticache.CfnReplicationGroup;
  /** The serverless cache, for a serverless bus. */
  public readonly serverlessCache?: elasticache.CfnServerlessCache;

  private readonly nodeCount: number;
  private readonly connected = new Set<string>();

  constructor(scope: Construct, id: string, props: RedisPubSubBusProps) {
    super(scope, id);
    const mode = props.mode ?? BusMode.provisioned();
    this.engine = props.engine ?? BusEngine.VALKEY_8;
    this.isClusterMode = mode.isServerless;
    this.port = this.validatePort(props, mode);
    checkInteger(this, 'snapshotRetentionDays', props.snapshotRetentionDays, 1, 35);

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: `Cache of ${this.node.path}; admits only connected services`,
      allowAllOutbound: false,
    });
    this.connections = new ec2.Connections({ securityGroups: [this.securityGroup], defaultPort: ec2.Port.tcp(this.port) });
    enforceRuleQuota(this.securityGroup);
    this.authSecret = this.createAuthSecret(props.encryptionKey);

    const subnets = props.vpc.selectSubnets(props.vpcSubnets ?? defaultSubnets(props.vpc));
    if (mode.isServerless) {
      this.serverlessCache = this.createServerlessCache(props, mode.serverlessOptions ?? {}, subnets);
      this.nodeCount = 1;
      this.endpointAddress = this.serverlessCache.attrEndpointAddress;
    } else {
      const options = mode.provisionedOptions ?? {};
      this.replicationGroup = this.createReplicationGroup(props, options, subnets);
      this.nodeCount = 1 + (options.replicas ?? 1);
      this.endpointAddress = this.replicationGroup.attrPrimaryEndPointAddress;
    }
    this.url = Fn.join('', ['rediss://', this.endpointAddress, ':', String(this.port)]);
  }

  /**
   * Lets an ECS service use the bus: opens the cache port to the service's security groups, sets
   * `REALTIME_BUS_URL` and `REALTIME_BUS_CLUSTER` in its default container, injects the token as the
   * ECS secret `REALTIME_BUS_AUTH` and grants the execution role read of it. Connecting twice is a no-op.
   *
   * The ingress rule is created in the service's stack when the service is in another stack than the bus,
   * and every reference (security group, URL, secret) points from the service's stack to the bus's, so a
   * bus in a data stack and services in an app stack synthesize without a dependency cycle.
   */
  public connect(service: ecs.BaseService): void {
    connectService(this, this.connected, service);
  }

  /**
   * Lets a Lambda function in the VPC use the bus: opens the cache port to it, sets `REALTIME_BUS_URL`,
   * `REALTIME_BUS_CLUSTER` and `REALTIME_BUS_AUTH_SECRET_ARN` (Lambda cannot take ECS secrets, so the
   * function reads the token from Secrets Manager at cold start) and grants it read of the secret
   * (`grantReadAuthToken`). Like `connect`, the rule lives in the function's stack. Connecting twice is a no-op.
   */
  public connectFunction(fn: lambda.IFunction): void {
    connectFunction(this, this.connected, fn);
  }

  /**
   * Grants read of the AUTH token (`secretsmanager:GetSecretValue` and `DescribeSecret` on the secret, and
   * decrypt through Secrets Manager when `encryptionKey` is set).
   */
  public grantReadAuthToken(grantee: iam.IGrantable): iam.Grant {
    return grantReadToken(this.authSecret, grantee);
  }

  /**
   * A metric of the cache in namespace `AWS/ElastiCache`, for dashboards and alarms, as a
   * `cloudwatch.MathExpression` so it has `createAlarm` whatever the mode: for a provisioned bus the
   * expression combines the same metric of every node (`CacheClusterId` `<group>-001`, `-002`, ...) with
   * `props.aggregation`; for a serverless bus it is the cache's one metric (`ServerlessCacheName`
   * dimension) as the expression `m1`.
   *
   * @param metricName the ElastiCache metric, e.g. `CurrItems`
   * @param props statistic, period and the rest of `cloudwatch.MetricOptions`; `label` and `color` name the combined series
   * @default - statistic Average over 1 minute; nodes combined with NodeAggregation.MAX
   */
  public metric(metricName: string, props: BusMetricOptions = {}): cloudwatch.MathExpression {
    const { aggregation, ...metricProps } = props;
    const { label, color, ...options }: cloudwatch.MetricOptions = { statistic: 'Average', period: Duration.minutes(1), ...metricProps };
    if (this.serverlessCache) {
      const m1 = new cloudwatch.Metric({
        namespace: 'AWS/ElastiCache',
        metricName,
        dimensionsMap: { ServerlessCacheName: this.serverlessCache.ref },
        ...options,
      });
      return new cloudwatch.MathExpression({ expression: 'm1', usingMetrics: { m1 }, label: label ?? metricName, color, period: options.period });
    }
    const fn = (aggregation ?? NodeAggregation.MAX).mathFunction;
    const usingMetrics: { [id: string]: cloudwatch.IMetric } = {};
    for (let i = 1; i <= this.nodeCount; i++) {
      usingMetrics[`node${i}`] = new cloudwatch.Metric({
        namespace: 'AWS/ElastiCache',
        metricName,
        // Member clusters of a replication group are named <group id>-001, -002, ...
        dimensionsMap: { CacheClusterId: Fn.join('-', [this.replicationGroup!.ref, String(i).padStart(3, '0')]) },
        ...options,
      });
    }
    return new cloudwatch.MathExpression({
      expression: `${fn}([${Object.keys(usingMetrics).join(', ')}])`,
      usingMetrics,
      label: label ?? `${metricName} (${fn} over ${this.nodeCount} nodes)`,
      color,
      period: options.period,
    });
  }

  /**
   * Engine CPU of the busiest node (provisioned); ECPUs consumed, summed (serverless, which has no CPU metric).
   *
   * @default - provisioned: maximum over nodes of the 1-minute Average; serverless: 1-minute Sum
   */
  public metricEngineCpuUtilization(props?: BusMetricOptions): cloudwatch.MathExpression {
    return this.serverlessCache
      ? this.metric('ElastiCacheProcessingUnits', { statistic: 'Sum', ...props })
      : this.metric('EngineCPUUtilization', { aggregation: NodeAggregation.MAX, ...props });
  }

  /**
   * Client connections, summed over nodes.
   *
   * @default - 1-minute Average, summed over nodes
   */
  public metricCurrentConnections(props?: BusMetricOptions): cloudwatch.MathExpression {
    return this.metric('CurrConnections', { aggregation: NodeAggregation.SUM, ...props });
  }

  /**
   * Bytes used for data, of the fullest node.
   *
   * @default - 1-minute Average, maximum over nodes
   */
  public metricBytesUsedForCache(props?: BusMetricOptions): cloudwatch.MathExpression {
    return this.metric('BytesUsedForCache', { aggregation: NodeAggregation.MAX, ...props });
  }

  /**
   * Pub/sub commands (PUBLISH, SUBSCRIBE and their sharded forms), summed over nodes.
   *
   * @default - 1-minute Sum, summed over nodes
   */
  public metricPubSubCommands(props?: BusMetricOptions): cloudwatch.MathExpression {
    return this.metric('PubSubBasedCmds', { statistic: 'Sum', aggregation: NodeAggregation.SUM, ...props });
  }

  /**
   * Bytes sent to clients, summed over nodes: pub/sub fan-out shows here.
   *
   * @default - 1-minute Sum, summed over nodes
   */
  public metricNetworkBytesOut(props?: BusMetricOptions): cloudwatch.MathExpression {
    return this.metric('NetworkBytesOut', { statistic: 'Sum', aggregation: NodeAggregation.SUM, ...props });
  }

  private validatePort(props: RedisPubSubBusProps, mode: BusMode): number {
    if (mode.isServerless) {
      if (props.port !== undefined && props.port !== SERVERLESS_PORT) {
        invalidProp(this, 'port', props.port, `cannot be set on a serverless cache, which always listens on ${SERVERLESS_PORT}`, 'remove port or use BusMode.provisioned()');
      }
      return SERVERLESS_PORT;
    }
    const port = props.port ?? 6390;
    checkInteger(this, 'port', port, 1024, 65535);
    return port;
  }

  private createAuthSecret(encryptionKey: kms.IKey | undefined): secretsmanager.Secret {
    const secret = new secretsmanager.Secret(this, 'AuthToken', {
      description: `AUTH token of ${this.node.path}`,
      encryptionKey,
      // AUTH tokens take 16-128 printable characters without @, " or /; letters and digits are always safe.
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
    });
    acknowledgeNag(secret, 'SMG4',
      'ElastiCache AUTH tokens have no managed rotation: rotating one means ModifyReplicationGroup with the ROTATE strategy in step with every client, which a generic rotation schedule cannot coordinate.');
    return secret;
  }

  private createReplicationGroup(
    props: RedisPubSubBusProps, options: ProvisionedBusOptions, subnets: ec2.SelectedSubnets,
  ): elasticache.CfnReplicationGroup {
    const replicas = options.replicas ?? 1;
    checkInteger(this, 'mode.replicas', replicas, 0, 5);
    if (props.vpc.availabilityZones.length < 2 && replicas > 0) {
      invalidProp(this, 'vpc', props.vpc.node.path, 'has one Availability Zone, so replicas cannot be spread for Multi-AZ failover', 'use a VPC with at least two Availability Zones');
    }
    const subnetGroup = new elasticache.CfnSubnetGroup(this, 'SubnetGroup', {
      description: `Subnets of ${this.node.path}`,
      subnetIds: subnets.subnetIds,
    });
    const logGroup = constructLogGroup(this, 'Logs', {
      retention: props.logRetention,
      encryptionKey: props.logEncryptionKey,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
    const group = new elasticache.CfnReplicationGroup(this, 'ReplicationGroup', {
      replicationGroupDescription: `Realtime bus ${this.node.path}`,
      engine: this.engine.engine,
      engineVersion: this.engine.version,
      cacheNodeType: options.nodeType ?? 'cache.t4g.small',
      numCacheClusters: 1 + replicas,
      automaticFailoverEnabled: replicas > 0,
      multiAzEnabled: replicas > 0,
      port: this.port,
      cacheSubnetGroupName: subnetGroup.ref,
      securityGroupIds: [this.securityGroup.securityGroupId],
      transitEncryptionEnabled: true,
      transitEncryptionMode: 'required',
      atRestEncryptionEnabled: true,
      kmsKeyId: props.encryptionKey?.keyArn,
      authToken: this.authSecret.secretValue.unsafeUnwrap(),
      snapshotRetentionLimit: props.snapshotRetentionDays ?? 7,
      autoMinorVersionUpgrade: true,
      logDeliveryConfigurations: ['slow-log', 'engine-log'].map(logType => ({
        logType,
        logFormat: 'json',
        destinationType: 'cloudwatch-logs',
        destinationDetails: { cloudWatchLogsDetails: { logGroup: logGroup.logGroupName } },
      })),
    });
    group.applyRemovalPolicy(props.removalPolicy ?? RemovalPolicy.SNAPSHOT);
    if (replicas === 0) {
      acknowledgeNag(group, 'AEC4', 'The bus was configured with zero replicas on purpose (mode.replicas: 0), so there is no second node to place in another Availability Zone.');
    }
    return group;
  }

  private createServerlessCache(
    props: RedisPubSubBusProps, options: ServerlessBusOptions, subnets: ec2.SelectedSubnets,
  ): elasticache.CfnServerlessCache {
    checkInteger(this, 'mode.maxEcpuPerSecond', options.maxEcpuPerSecond, 1000, 15_000_000);
    const storageGb = options.maxDataStorage?.toGibibytes();
    checkInteger(this, 'mode.maxDataStorage (GB)', storageGb, 1, 5000);
    if (props.removalPolicy === RemovalPolicy.SNAPSHOT) {
      invalidProp(this, 'removalPolicy', 'RemovalPolicy.SNAPSHOT',
        'does not apply to a serverless cache (CloudFormation supports the Snapshot deletion policy only on node-based caches)',
        'use RemovalPolicy.RETAIN (the default) or RemovalPolicy.DESTROY, or BusMode.provisioned()');
    }
    const name = physicalName(this, '');
    // Serverless caches take no AUTH token: a user named 'default' with the token as password makes
    // single-argument `AUTH <token>` work exactly as on a provisioned cache.
    const user = new elasticache.CfnUser(this, 'DefaultUser', {
      userId: physicalName(this, 'user'),
      userName: 'default',
      engine: this.engine.engine,
      accessString: 'on ~* &* +@all',
      // The L1 types this property as untyped JSON, so the CloudFormation names are written as they are.
      authenticationMode: { Type: 'password', Passwords: [this.authSecret.secretValue.unsafeUnwrap()] },
    });
    const userGroup = new elasticache.CfnUserGroup(this, 'UserGroup', {
      userGroupId: physicalName(this, 'users'),
      engine: this.engine.engine,
      userIds: [user.ref],
    });
    const cache = new elasticache.CfnServerlessCache(this, 'ServerlessCache', {
      serverlessCacheName: name,
      description: `Realtime bus ${this.node.path}`,
      engine: this.engine.engine,
      majorEngineVersion: this.engine.majorVersion,
      subnetIds: subnets.subnetIds,
      securityGroupIds: [this.securityGroup.securityGroupId],
      kmsKeyId: props.encryptionKey?.keyArn,
      userGroupId: userGroup.ref,
      snapshotRetentionLimit: props.snapshotRetentionDays ?? 7,
      cacheUsageLimits: options.maxEcpuPerSecond === undefined && storageGb === undefined ? undefined : {
        ecpuPerSecond: options.maxEcpuPerSecond === undefined ? undefined : { maximum: options.maxEcpuPerSecond },
        dataStorage: storageGb === undefined ? undefined : { maximum: storageGb, unit: 'GB' },
      },
    });
    cache.addDependency(userGroup);
    cache.applyRemovalPolicy(props.removalPolicy ?? RemovalPolicy.RETAIN);
    return cache;
  }
}

/**
 * A bus defined elsewhere, known by its security group, endpoint, port, secret and mode.
 */
class ImportedRedisPubSubBus extends Construct implements IRedisPubSubBus {
  public readonly connections: ec2.Connections;
  public readonly url: string;
  public readonly endpointAddress: string;
  public readonly port: number;
  public readonly isClusterMode: boolean;
  public readonly authSecret: secretsmanager.ISecret;
  private readonly connected = new Set<string>();

  constructor(scope: Construct, id: string, attrs: RedisPubSubBusAttributes) {
    super(scope, id);
    if ((attrs.securityGroup === undefined) === (attrs.securityGroupId === undefined)) {
      invalidProp(this, 'securityGroupId', attrs.securityGroupId ?? 'undefined',
        attrs.securityGroup ? 'is given together with securityGroup' : 'and securityGroup are both missing',
        'give exactly one of securityGroupId and securityGroup');
    }
    checkInteger(this, 'port', attrs.port, 1, 65535);
    const securityGroup = attrs.securityGroup ?? ec2.SecurityGroup.fromSecurityGroupId(this, 'SecurityGroup', attrs.securityGroupId!);
    this.port = attrs.port;
    this.connections = new ec2.Connections({ securityGroups: [securityGroup], defaultPort: ec2.Port.tcp(this.port) });
    this.endpointAddress = attrs.endpointAddress;
    this.isClusterMode = attrs.isClusterMode;
    this.authSecret = attrs.authSecret;
    this.url = Fn.join('', ['rediss://', this.endpointAddress, ':', String(this.port)]);
  }

  public connect(service: ecs.BaseService): void {
    connectService(this, this.connected, service);
  }

  public connectFunction(fn: lambda.IFunction): void {
    connectFunction(this, this.connected, fn);
  }

  public grantReadAuthToken(grantee: iam.IGrantable): iam.Grant {
    return grantReadToken(this.authSecret, grantee);
  }
}

/**
 * Opens the bus's port to `consumer` from the consumer's side: its connections add any egress rule to its
 * own groups and ask the bus's group for the ingress rule as a remote rule, which aws-cdk-lib creates in the
 * consumer's security group's scope when the two are in different stacks (`SecurityGroupBase.determineRuleScope`).
 * Every reference then points from the consumer's stack to the bus's, never back.
 */
function openPort(bus: IRedisPubSubBus, consumer: ec2.IConnectable, description: string): void {
  consumer.connections.allowTo(bus, ec2.Port.tcp(bus.port), description);
}

function connectService(bus: IRedisPubSubBus, connected: Set<string>, service: ecs.BaseService): void {
  if (connected.has(service.node.path)) {
    return;
  }
  const container = service.taskDefinition.defaultContainer;
  if (!container) {
    throw new Error(`${bus.node.path}: connect(${service.node.path}) found no container in its task definition; add the container before connecting`);
  }
  connected.add(service.node.path);
  openPort(bus, service, `From ${service.node.path}`);
  container.addEnvironment(EnvContract.BUS_URL, bus.url);
  container.addEnvironment(EnvContract.BUS_CLUSTER, String(bus.isClusterMode));
  // Adding the ECS secret grants the execution role read of it, through bus.grantReadAuthToken.
  container.addSecret(EnvContract.BUS_AUTH, new AuthTokenSecret(bus));
}

/** The AUTH token as an ECS secret whose read is granted by `bus.grantReadAuthToken` (cycle-free across stacks). */
class AuthTokenSecret extends ecs.Secret {
  public readonly arn: string;
  public readonly hasField = false;

  constructor(private readonly bus: IRedisPubSubBus) {
    super();
    this.arn = bus.authSecret.secretArn;
  }

  public grantRead(grantee: iam.IGrantable): iam.Grant {
    return this.bus.grantReadAuthToken(grantee);
  }
}

/**
 * Grants read of the token. `ISecret.grantRead` lets the grantee decrypt through the secret's KMS key by
 * adding the grantee to the key's policy; with the key in a data stack and the grantee in an app stack (same
 * account and region) that
 * is a reference from the data stack to the app stack, which closes a dependency cycle. In that case the
 * decrypt permission goes into the grantee's own policy instead (limited to use through Secrets Manager by
 * `kms:ViaService`), which the key honours when its policy lets IAM policies of the account grant its use,
 * as the default key policy does (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html).
 */
function grantReadToken(secret: secretsmanager.ISecret, grantee: iam.IGrantable): iam.Grant {
  const key = secret.encryptionKey;
  const principal = grantee.grantPrincipal;
  if (!key || !Construct.isConstruct(principal)) {
    return secret.grantRead(grantee);
  }
  const granteeStack = Stack.of(principal);
  const keyStack = Stack.of(key);
  // Only another stack of the same account and region; across accounts the key policy must name the grantee.
  if (granteeStack === keyStack || granteeStack.account !== keyStack.account || granteeStack.region !== keyStack.region) {
    return secret.grantRead(grantee);
  }
  const grant = iam.Grant.addToPrincipal({
    grantee,
    actions: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
    // A secret imported by name has a partial ARN; Secrets Manager appends six random characters.
    resourceArns: [secret.secretFullArn ?? `${secret.secretArn}-??????`],
  });
  iam.Grant.addToPrincipal({
    grantee,
    actions: ['kms:Decrypt'],
    resourceArns: [key.keyArn],
    conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${Stack.of(key).region}.amazonaws.com` } },
  });
  return grant;
}

/** A function whose environment can be set here: lambda.Function, SingletonFunction, or the function behind an alias or version. */
interface FunctionWithEnvironment {
  addEnvironment(key: string, value: string): unknown;
}

function environmentOf(fn: lambda.IFunction): FunctionWithEnvironment | undefined {
  const candidate = fn as unknown as Partial<FunctionWithEnvironment>;
  return typeof candidate.addEnvironment === 'function' ? candidate as FunctionWithEnvironment : undefined;
}

function connectFunction(bus: IRedisPubSubBus, connected: Set<string>, given: lambda.IFunction): void {
  // An alias or version has the network, role and environment of the function it qualifies.
  const fn: lambda.IFunction = given instanceof lambda.QualifiedFunctionBase ? given.lambda : given;
  if (connected.has(fn.node.path)) {
    return;
  }
  if (!fn.isBoundToVpc) {
    throw new Error(`${bus.node.path}: connectFunction(${given.node.path}) needs a function in the bus's VPC; set vpc (and vpcSubnets) on the function`);
  }
  connected.add(fn.node.path);
  openPort(bus, fn, `From ${fn.node.path}`);
  const environment = environmentOf(fn);
  if (environment) {
    environment.addEnvironment(EnvContract.BUS_URL, bus.url);
    environment.addEnvironment(EnvContract.BUS_CLUSTER, String(bus.isClusterMode));
    environment.addEnvironment(EnvContract.BUS_AUTH_SECRET_ARN, bus.authSecret.secretArn);
  } else {
    Annotations.of(fn).addWarningV2('cdk-realtime:busEnvironmentNotSet',
      `${bus.node.path}: connectFunction(${fn.node.path}) opened the port and granted read of the token, but cannot set the environment of an imported function; `
      + `set ${EnvContract.BUS_URL} to the bus's url, ${EnvContract.BUS_CLUSTER} to '${bus.isClusterMode}' and ${EnvContract.BUS_AUTH_SECRET_ARN} to the ARN of its authSecret where the function is defined`);
  }
  bus.grantReadAuthToken(fn);
}

function defaultSubnets(vpc: ec2.IVpc): ec2.SubnetSelection {
  return { subnetType: vpc.isolatedSubnets.length > 0 ? ec2.SubnetType.PRIVATE_ISOLATED : ec2.SubnetType.PRIVATE_WITH_EGRESS };
}

/** ElastiCache names: lowercase letters, digits and single hyphens, starting with a letter, at most 40 characters. */
function physicalName(scope: Construct, suffix: string): string {
  const base = Names.uniqueResourceName(scope, { maxLength: 40 - (suffix ? suffix.length + 1 : 0), separator: '-' })
    .toLowerCase().replace(/[^a-z0-9-]/g, '').replace(/-+/g, '-').replace(/^[^a-z]+/, '');
  return [base || 'bus', suffix].filter(Boolean).join('-');
}
