import { ArnFormat, Duration, Names, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as authorizers from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import * as integrations from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sources from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { BotCommandApiOptions, BotWorkerOptions } from './bot-functions';
import { BotProtocol } from './bot-protocol';
import { FanoutQueue, FanoutQueues } from './fanout-queues';
import { checkFargateSize } from './fargate-size';
import { TokenSecret } from './token-secret';
import { EnvContract } from '../private/env-contract';
import { acknowledgeApiInvokePermissions } from '../private/lambda-permissions';
import { LogGroupSettings, constructLogGroup } from '../private/log-group';
import { acknowledgeControl, acknowledgeNag, acknowledgeWildcards } from '../private/nag';
import { checkInteger, checkSeconds, invalidProp } from '../private/validation';
import { IRealtimeBus } from '../pubsub/realtime-bus';

/**
 * The most shards one ShardedBot takes. Each shard costs 9 CloudFormation resources (service, task
 * definition, task role, queue, queue policy, dead-letter queue and its policy, subscription, alarm), and a
 * stack holds at most 500 resources
 * (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html): 40 shards
 * leave room for the bot's other parts, a VPC and a bus in the same stack. SNS allows 200 filter policies
 * per topic (https://docs.aws.amazon.com/sns/latest/dg/subscription-filter-policy-constraints.html), so
 * the topic is not the limit. 40 shards of 2,500 guilds hold 100,000 guilds.
 */
const MAX_SHARDS = 40;
/** Fargate stops a container at most 120 s after SIGTERM. */
const FARGATE_MAX_STOP_SECONDS = 120;
/** HTTP APIs wait at most 30 s for an integration (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html). */
const HTTP_API_MAX_TIMEOUT_SECONDS = 29;
/** Variables the bot sets; a user value would be silently overwritten. */
const CONTRACT_NAMES: string[] = Object.values(EnvContract);

/**
 * Properties of a ShardedBot.
 */
export interface ShardedBotProps {
  /**
   * The shard program's image. It reads the environment contract (`SHARD_ID`, `SHARD_COUNT`, `BOT_TOKEN`,
   * `BOT_TOPIC_ARN`, `BOT_QUEUE_URL`, ...; see README), connects to the gateway as shard
   * `[SHARD_ID, SHARD_COUNT]` and answers the requests on its queue.
   */
  readonly image: ecs.ContainerImage;

  /**
   * How many shards, 1 to 40 (`MAX_SHARDS`): one ECS service of one task each. Changing it re-deploys
   * every shard, since each one's `SHARD_COUNT` changes.
   */
  readonly shardCount: number;

  /** The secret holding the gateway token; injected into each shard as the ECS secret `BOT_TOKEN`. */
  readonly tokenSecret: secretsmanager.ISecret;

  /**
   * The JSON key of the token inside the secret.
   * @default - the whole secret string is the token
   */
  readonly tokenSecretField?: string;

  /**
   * The VPC for the shards (and the functions). Ignored when `cluster` is given (the cluster's VPC is used).
   * @default - a new VPC over 2 Availability Zones with public subnets (no public address assigned on
   * launch) and private subnets, one NAT gateway and flow logs to CloudWatch Logs
   */
  readonly vpc?: ec2.IVpc;

  /**
   * The ECS cluster to run the shards in.
   * @default - a new cluster in the VPC with Container Insights enabled
   */
  readonly cluster?: ecs.ICluster;

  /**
   * Subnets of the shard tasks and the functions. They need a route to the gateway on the internet.
   * @default - the VPC's private subnets with egress
   */
  readonly taskSubnets?: ec2.SubnetSelection;

  /**
   * CPU units per shard task (256 = 0.25 vCPU). Must be a Fargate CPU/memory combination.
   * @default 256
   */
  readonly cpu?: number;

  /**
   * Memory per shard task in MiB. Must be a Fargate CPU/memory combination.
   * @default 512
   */
  readonly memoryLimitMiB?: number;

  /**
   * CPU architecture of the tasks; the image must be built for it.
   * @default ecs.CpuArchitecture.ARM64
   */
  readonly cpuArchitecture?: ecs.CpuArchitecture;

  /**
   * Extra environment variables of every shard. Keep secrets out of them: use `secrets`.
   * @default - only the environment contract
   */
  readonly environment?: { [key: string]: string };

  /**
   * Extra secrets injected into every shard at start.
   * @default - only `BOT_TOKEN` and those a connected bus adds
   */
  readonly secrets?: { [key: string]: ecs.Secret };

  /**
   * Mount the container's root filesystem read-only. A writable `/tmp` is always mounted.
   * @default true
   */
  readonly readonlyRootFilesystem?: boolean;

  /**
   * The user the container runs as.
   * @default '1000' (the `node` user of the official Node.js images)
   */
  readonly user?: string;

  /**
   * How long a shard has after SIGTERM to close its gateway session before it is killed, 2 to 120
   * seconds. Its replacement starts only after it has stopped, so this adds to every deploy's downtime.
   * @default Duration.seconds(10)
   */
  readonly stopTimeout?: Duration;

  /**
   * A command the container runs to report its health, e.g. one that fails while the gateway session is
   * down. ECS replaces an unhealthy shard task; with maximum 100 % it stops it before starting the
   * replacement, so the shard still never runs twice.
   * @default - none: a shard is replaced only when its process exits
   */
  readonly healthCheck?: ecs.HealthCheck;

  /**
   * Names the shard services `<prefix>-shard-<id>`. Named services cannot be replaced in place, so leave
   * this unset unless something outside the stack looks them up by name.
   * @default - names CloudFormation generates
   */
  readonly serviceNamePrefix?: string;

  /**
   * A bus for shared state and for pacing gateway identifies across shards (one identify per
   * `shard_id % max_concurrency` bucket every 5 seconds): each shard service is connected to it.
   * @default - no bus
   */
  readonly bus?: IRealtimeBus;

  /**
   * An HTTP API whose `POST` route runs your command function, which publishes to the shards.
   * @default - no command API
   */
  readonly commandApi?: BotCommandApiOptions;

  /**
   * Worker functions fed by a work queue that the shards send offloaded work to.
   * @default - no workers, and no `BOT_WORK_QUEUE_URL`
   */
  readonly worker?: BotWorkerOptions;

  /**
   * Receives of a message (by a shard or a worker) before it moves to the dead-letter queue.
   * @default 5
   */
  readonly maxReceiveCount?: number;

  /**
   * How long a shard queue keeps a message its shard has not received, e.g. while the shard restarts.
   * Requests carry their own `deadline`, after which the shard drops them.
   * @default Duration.hours(1)
   */
  readonly messageRetention?: Duration;

  /**
   * The KMS key of the bot topic; see `FanoutQueuesProps.topicEncryptionKey`.
   * @default - the AWS managed key `alias/aws/sns`
   */
  readonly topicEncryptionKey?: kms.IKey;

  /**
   * A topic notified when a dead-letter alarm goes into alarm and when it recovers.
   * @default - no notification; the alarms are still visible in the console
   */
  readonly alarmTopic?: sns.ITopic;

  /**
   * How long the shards', the functions' and the command API's logs (and the flow logs of a VPC the bot
   * creates) are kept.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * A KMS key that encrypts every log group the bot creates. For a key created in this app the bot lets
   * CloudWatch Logs use it; an imported key's policy must already allow it
   * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html).
   * @default - CloudWatch Logs' own encryption (AWS-owned key)
   */
  readonly logEncryptionKey?: kms.IKey;

  /**
   * What happens to the log groups the bot creates when they leave the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly logRemovalPolicy?: RemovalPolicy;
}

/** One shard's parts. */
interface Shard {
  readonly service: ecs.FargateService;
  readonly taskDefinition: ecs.FargateTaskDefinition;
  readonly role: iam.Role;
}

/**
 * A gateway bot (Discord-style) split into N shards: one Fargate service per shard, each running exactly
 * one task, talking to each other and to the bot's functions over one SNS topic and one SQS queue per shard.
 *
 * - **Never two tasks of one shard.** A gateway closes both sessions of a duplicated shard, so each service
 *   has desired count 1, minimum healthy 0 % and maximum 100 %: a deploy stops the old task before it starts
 *   the new one. Availability Zone rebalancing (which starts a task before stopping one) is off, and the
 *   deployment circuit breaker rolls back a shard that cannot start.
 * - **One shard at a time.** Each shard service depends on the one before, so CloudFormation updates them
 *   one after another and never takes every shard down at once. A deploy costs each shard its stop time
 *   (`stopTimeout` at most) plus a Fargate task start and a gateway identify, typically under a minute and
 *   a half; see README.
 * - **Messaging.** A request is published to `topic` with the message attribute `shard` = an id or `all`
 *   (see `BotEnvelope`); each shard's queue admits its id and `all`. Answers go straight to the request's
 *   `replyTo` queue. Shards may publish, send to each other's queues, to the command reply queue and to
 *   the work queue, and receive only from their own queue. Every queue is encrypted and has a
 *   dead-letter queue with an alarm.
 * - **Options.** `commandApi` (HTTP API with an IAM authorizer by default → your command function),
 *   `worker` (your function on the work queue) and `bus` (a `RedisPubSubBus` connected to every shard;
 *   connect the functions yourself with `bus.connectFunction(bot.workerFunction)` if they need it). The
 *   command and worker logic is yours, so the bot takes its code and bundles none of its own.
 *
 * @example
 * declare const vpc: ec2.Vpc;
 * declare const token: secretsmanager.ISecret;
 * declare const bus: RedisPubSubBus;
 * new ShardedBot(this, 'Bot', {
 *   vpc,
 *   image: ecs.ContainerImage.fromAsset('bot'),
 *   shardCount: 4,
 *   tokenSecret: token,
 *   bus,
 *   commandApi: { code: lambda.Code.fromAsset('dist/commands'), handler: 'index.handler' },
 * });
 */
export class ShardedBot extends Construct {
  /**
   * The most shards one ShardedBot takes: each shard adds 9 resources to a stack that holds at most 500,
   * and 40 leave room for the bot's other parts, a VPC and a bus.
   */
  public static readonly MAX_SHARDS = MAX_SHARDS;

  /** How many shards the bot has. */
  public readonly shardCount: number;
  /** The VPC of the shards and functions. */
  public readonly vpc: ec2.IVpc;
  /** The cluster the shards run in. */
  public readonly cluster: ecs.ICluster;
  /** The security group of the shards and functions: no ingress, egress on 443 only (plus what a bus adds). */
  public readonly securityGroup: ec2.SecurityGroup;
  /** The topic, shard queues, and the reply and work queues. */
  public readonly messaging: FanoutQueues;
  /** The topic requests to shards are published to. */
  public readonly topic: sns.Topic;
  /** One service per shard, index = shard id. */
  public readonly services: ecs.FargateService[];
  /** One task definition per shard, index = shard id. */
  public readonly taskDefinitions: ecs.FargateTaskDefinition[];
  /** One queue per shard, index = shard id, with its dead-letter queue and alarm. */
  public readonly shardQueues: FanoutQueue[];
  /** The shards' log group (one stream prefix per shard, `shard-<id>`). */
  public readonly logGroup: logs.ILogGroup;
  /** The execution role all shard tasks share (pulls the image, reads the token). */
  public readonly executionRole: iam.Role;
  /** The command API, when `commandApi` is given. */
  public readonly commandApi?: apigwv2.HttpApi;
  /** The command API's `POST` route, when `commandApi` is given. */
  public readonly commandRoute?: apigwv2.HttpRoute;
  /** The URL of the command route, when `commandApi` is given. */
  public readonly commandUrl?: string;
  /** The command function, when `commandApi` is given. */
  public readonly commandFunction?: lambda.Function;
  /** The command function's reply queue, when `commandApi` is given. */
  public readonly replyQueue?: sqs.Queue;
  /** The worker function, when `worker` is given. */
  public readonly workerFunction?: lambda.Function;
  /** The work queue, with its dead-letter queue and alarm, when `worker` is given. */
  public readonly workQueue?: FanoutQueue;

  private readonly queueNamePrefix: string;
  private readonly logSettings: LogGroupSettings;
  private readonly logRemovalPolicy: RemovalPolicy;
  private readonly subnets: ec2.SubnetSelection;

  constructor(scope: Construct, id: string, props: ShardedBotProps) {
    super(scope, id);
    this.validate(props);
    this.shardCount = props.shardCount;
    this.logSettings = { retention: props.logRetention, encryptionKey: props.logEncryptionKey };
    this.logRemovalPolicy = props.logRemovalPolicy ?? RemovalPolicy.RETAIN;
    // Shard queues get predictable names so one policy can let every shard reach every other shard's queue.
    this.queueNamePrefix = Names.uniqueResourceName(this, { maxLength: 60, separator: '-' });
    this.subnets = props.taskSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };

    this.cluster = props.cluster ?? this.createCluster(props.vpc ?? this.createVpc());
    this.vpc = this.cluster.vpc;
    this.securityGroup = this.createSecurityGroup();
    this.messaging = new FanoutQueues(this, 'Messaging', {
      topicEncryptionKey: props.topicEncryptionKey,
      maxReceiveCount: props.maxReceiveCount,
      alarmTopic: props.alarmTopic,
    });
    this.topic = this.messaging.topic;
    this.shardQueues = this.createShardQueues(props);
    if (props.worker) {
      this.workQueue = this.createWorkQueue(props.worker);
    }
    if (props.commandApi) {
      this.replyQueue = this.createReplyQueue();
    }

    this.logGroup = constructLogGroup(this, 'Logs', { ...this.logSettings, removalPolicy: this.logRemovalPolicy });
    this.executionRole = new iam.Role(this, 'ExecutionRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: `Starts the shard tasks of ${this.node.path}: pulls the image, writes logs, reads the token`,
    });
    const shards = this.shardQueues.map((queue, shardId) => this.createShard(shardId, queue, props));
    this.services = shards.map(s => s.service);
    this.taskDefinitions = shards.map(s => s.taskDefinition);
    this.chainDeployments(shards);
    this.grantShardAccess(shards, props.topicEncryptionKey);
    for (const service of this.services) {
      props.bus?.connect(service);
    }

    if (props.worker && this.workQueue) {
      this.workerFunction = this.createWorker(props.worker, this.workQueue.queue);
    }
    if (props.commandApi && this.replyQueue) {
      this.commandFunction = this.createCommandFunction(props.commandApi, this.replyQueue);
      const { api, route } = this.createCommandApi(props.commandApi, this.commandFunction);
      this.commandApi = api;
      this.commandRoute = route;
      this.commandUrl = `${api.apiEndpoint}${props.commandApi.path ?? '/commands'}`;
    }
    this.acknowledgeFindings(props);
  }

  /** Lets a principal publish requests to the shards. */
  public grantPublish(grantee: iam.IGrantable): iam.Grant {
    return this.messaging.grantPublish(grantee);
  }

  /** Lets a principal send straight to any shard's queue, e.g. to answer a shard's request. */
  public grantSendToShards(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions: ['sqs:SendMessage'], resourceArns: [this.shardQueueArnPattern()] });
  }

  /**
   * Lets a principal call the command API under its default IAM authorizer (`execute-api:Invoke` on the
   * command route). Throws when the bot has no command API.
   */
  public grantInvokeCommands(grantee: iam.IGrantable): iam.Grant {
    if (!this.commandRoute) {
      throw new Error(`${this.node.path}: grantInvokeCommands needs a command API; give the commandApi prop`);
    }
    return this.commandRoute.grantInvoke(grantee);
  }

  /**
   * Age of the oldest request waiting in a shard's queue (SQS `ApproximateAgeOfOldestMessage`, maximum per
   * minute): it grows while the shard is down or cannot keep up.
   */
  public metricShardBacklogAge(shardId: number, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    checkInteger(this, 'metricShardBacklogAge shardId', shardId, 0, this.shardCount - 1);
    return this.shardQueues[shardId].queue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(1), statistic: 'Maximum', ...props });
  }

  /** The dead-letter alarms of the shard queues and the work queue. */
  public get deadLetterAlarms(): cloudwatch.Alarm[] {
    return this.messaging.queues.map(q => q.deadLetterAlarm).filter((a): a is cloudwatch.Alarm => a !== undefined);
  }

  private validate(props: ShardedBotProps): void {
    if (!props.tokenSecret) {
      invalidProp(this, 'tokenSecret', props.tokenSecret, 'is missing, so the shards could not log in to the gateway',
        'store the bot token in Secrets Manager and give that secret as tokenSecret');
    }
    if (props.shardCount === undefined || Token.isUnresolved(props.shardCount)) {
      invalidProp(this, 'shardCount', props.shardCount, 'must be known at synthesis (one service is made per shard)',
        `give a whole number from 1 to ${MAX_SHARDS}`);
    }
    if (!Number.isInteger(props.shardCount) || props.shardCount < 1 || props.shardCount > MAX_SHARDS) {
      invalidProp(this, 'shardCount', props.shardCount,
        `is not a whole number from 1 to ${MAX_SHARDS} (each shard adds 9 resources to a stack that holds at most 500)`,
        `use 1 to ${MAX_SHARDS} shards`);
    }
    if (props.vpc && props.cluster) {
      invalidProp(this, 'vpc', props.vpc.node.path, 'is ignored when cluster is given', "remove vpc; the cluster's VPC is used");
    }
    if (props.tokenSecretField !== undefined && !/^\S{1,256}$/.test(props.tokenSecretField)) {
      invalidProp(this, 'tokenSecretField', props.tokenSecretField, 'is not a JSON key of the secret', 'give the key without spaces, or leave it unset');
    }
    if (props.serviceNamePrefix !== undefined) {
      const longest = `${props.serviceNamePrefix}-shard-${props.shardCount - 1}`;
      if (!/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(props.serviceNamePrefix) || longest.length > 255) {
        invalidProp(this, 'serviceNamePrefix', props.serviceNamePrefix, 'does not make valid ECS service names',
          `use letters, digits, hyphens and underscores, starting with a letter or digit, at most ${255 - longest.length + props.serviceNamePrefix.length} characters`);
      }
    }
    for (const name of Object.keys(props.environment ?? {})) {
      if (CONTRACT_NAMES.includes(name)) {
        invalidProp(this, 'environment', name, 'is set by the bot itself', 'remove it, or rename your variable');
      }
    }
    for (const name of Object.keys(props.secrets ?? {})) {
      if (CONTRACT_NAMES.includes(name)) {
        invalidProp(this, 'secrets', name, 'is set by the bot itself', 'remove it, or rename your secret');
      }
    }
    if (props.stopTimeout) {
      checkSeconds(this, 'stopTimeout', props.stopTimeout, 2, FARGATE_MAX_STOP_SECONDS, 'Fargate stopTimeout');
    }
    if (props.messageRetention) {
      checkSeconds(this, 'messageRetention', props.messageRetention, 60, 1_209_600, 'SQS message retention');
    }
    checkFargateSize(this, props.cpu ?? 256, props.memoryLimitMiB ?? 512);
    this.validateFunctions(props);
  }

  private validateFunctions(props: ShardedBotProps): void {
    const command = props.commandApi;
    if (command) {
      if (command.timeout) {
        checkSeconds(this, 'commandApi.timeout', command.timeout, 1, HTTP_API_MAX_TIMEOUT_SECONDS, 'the HTTP API integration');
      }
      const path = command.path ?? '/commands';
      if (!/^\/[A-Za-z0-9._~\-/]*$/.test(path) || path.includes('//')) {
        invalidProp(this, 'commandApi.path', path, 'is not a route path', "give a path such as '/commands'");
      }
      checkInteger(this, 'commandApi.throttlingRateLimit', command.throttlingRateLimit, 1, 10_000);
      checkInteger(this, 'commandApi.throttlingBurstLimit', command.throttlingBurstLimit, 1, 5_000);
      checkInteger(this, 'commandApi.memorySize', command.memorySize, 128, 10_240);
      for (const name of Object.keys(command.environment ?? {})) {
        if (CONTRACT_NAMES.includes(name)) {
          invalidProp(this, 'commandApi.environment', name, 'is set by the bot itself', 'remove it, or rename your variable');
        }
      }
    }
    const worker = props.worker;
    if (worker) {
      if (worker.timeout) {
        checkSeconds(this, 'worker.timeout', worker.timeout, 1, 900, 'Lambda timeout');
      }
      checkInteger(this, 'worker.batchSize', worker.batchSize, 1, 10);
      checkInteger(this, 'worker.maxConcurrency', worker.maxConcurrency, 2, 1000);
      checkInteger(this, 'worker.memorySize', worker.memorySize, 128, 10_240);
    }
  }

  private createVpc(): ec2.IVpc {
    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 1,
      subnetConfiguration: [
        { name: 'Public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: false },
        { name: 'Private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
      ],
    });
    vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(constructLogGroup(this, 'FlowLogs', {
        ...this.logSettings, removalPolicy: this.logRemovalPolicy,
      })),
    });
    return vpc;
  }

  private createCluster(vpc: ec2.IVpc): ecs.ICluster {
    return new ecs.Cluster(this, 'Cluster', { vpc, containerInsightsV2: ecs.ContainerInsights.ENABLED });
  }

  /** The shards only dial out (gateway, SNS, SQS, all on 443); nothing dials in. */
  private createSecurityGroup(): ec2.SecurityGroup {
    const group = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: this.vpc,
      description: `Shards and functions of ${this.node.path}: HTTPS out only`,
      allowAllOutbound: false,
    });
    group.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to the gateway and AWS APIs');
    return group;
  }

  private createShardQueues(props: ShardedBotProps): FanoutQueue[] {
    return Array.from({ length: props.shardCount }, (_, shardId) => this.messaging.addQueue(`Shard${shardId}`, {
      queueName: `${this.queueNamePrefix}-shard-${shardId}`,
      deadLetterQueueName: `${this.queueNamePrefix}-dlq-shard-${shardId}`,
      filterPolicy: {
        [BotProtocol.SHARD_ATTRIBUTE]: sns.SubscriptionFilter.stringFilter({ allowlist: [String(shardId), BotProtocol.ALL_SHARDS] }),
      },
      retentionPeriod: props.messageRetention ?? Duration.hours(1),
      purpose: `shard ${shardId} of ${this.node.path}`,
    }));
  }

  private createWorkQueue(worker: BotWorkerOptions): FanoutQueue {
    const timeout = worker.timeout ?? Duration.seconds(60);
    return this.messaging.addQueue('Work', {
      subscribe: false,
      queueName: `${this.queueNamePrefix}-work`,
      deadLetterQueueName: `${this.queueNamePrefix}-dlq-work`,
      // AWS advises at least six times the function timeout for an SQS event source
      // (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html).
      visibilityTimeout: Duration.seconds(timeout.toSeconds() * 6),
      retentionPeriod: Duration.days(4),
      purpose: `the work queue of ${this.node.path}`,
    });
  }

  private createReplyQueue(): sqs.Queue {
    const { queue } = this.messaging.addQueue('Replies', {
      subscribe: false,
      deadLetterQueue: false,
      queueName: `${this.queueNamePrefix}-replies`,
      // Shared by concurrent invocations: a reply one of them receives stays visible to its owner.
      visibilityTimeout: Duration.seconds(0),
      retentionPeriod: Duration.minutes(5),
    });
    return queue;
  }

  private createShard(shardId: number, queue: FanoutQueue, props: ShardedBotProps): Shard {
    const scope = new Construct(this, `Shard${shardId}`);
    const role = new iam.Role(scope, 'TaskRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: `Shard ${shardId} of ${this.node.path}`,
    });
    // Only this shard may receive from its queue; granted in the queue's policy, which exists anyway.
    queue.queue.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'OwnShardReceives',
      principals: [role],
      actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'],
      resources: [queue.queue.queueArn],
    }));
    const memory = props.memoryLimitMiB ?? 512;
    const taskDefinition = new ecs.FargateTaskDefinition(scope, 'TaskDefinition', {
      cpu: props.cpu ?? 256,
      memoryLimitMiB: memory,
      runtimePlatform: {
        cpuArchitecture: props.cpuArchitecture ?? ecs.CpuArchitecture.ARM64,
        operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
      },
      taskRole: role,
      executionRole: this.executionRole,
      volumes: [{ name: 'tmp' }],
    });
    const container = taskDefinition.addContainer('Bot', {
      image: props.image,
      essential: true,
      readonlyRootFilesystem: props.readonlyRootFilesystem ?? true,
      user: props.user ?? '1000',
      memoryLimitMiB: memory,
      stopTimeout: props.stopTimeout ?? Duration.seconds(10),
      healthCheck: props.healthCheck,
      logging: ecs.LogDrivers.awsLogs({ logGroup: this.logGroup, streamPrefix: `shard-${shardId}` }),
      environment: {
        ...props.environment,
        [EnvContract.SHARD_ID]: String(shardId),
        [EnvContract.SHARD_COUNT]: String(props.shardCount),
        [EnvContract.BOT_TOPIC_ARN]: this.topic.topicArn,
        [EnvContract.BOT_QUEUE_URL]: queue.queue.queueUrl,
        ...(this.workQueue ? { [EnvContract.BOT_WORK_QUEUE_URL]: this.workQueue.queue.queueUrl } : {}),
      },
      secrets: {
        ...props.secrets,
        [EnvContract.BOT_TOKEN]: new TokenSecret(props.tokenSecret, props.tokenSecretField),
      },
    });
    container.addMountPoints({ sourceVolume: 'tmp', containerPath: '/tmp', readOnly: false });
    const service = new ecs.FargateService(scope, 'Service', {
      cluster: this.cluster,
      taskDefinition,
      serviceName: props.serviceNamePrefix ? `${props.serviceNamePrefix}-shard-${shardId}` : undefined,
      // Exactly one task, and a deploy stops it before starting its replacement: a gateway closes both
      // sessions of a shard that connects twice. With maximum 100 % ECS also stops an unhealthy task before
      // replacing it (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeploymentConfiguration.html).
      desiredCount: 1,
      minHealthyPercent: 0,
      maxHealthyPercent: 100,
      circuitBreaker: { enable: true, rollback: true },
      // Rebalancing starts a task in another zone before stopping one, which would run the shard twice
      // (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-rebalancing.html).
      availabilityZoneRebalancing: ecs.AvailabilityZoneRebalancing.DISABLED,
      vpcSubnets: this.subnets,
      assignPublicIp: false,
      securityGroups: [this.securityGroup],
      propagateTags: ecs.PropagatedTagSource.SERVICE,
      enableECSManagedTags: true,
    });
    return { service, taskDefinition, role };
  }

  /**
   * CloudFormation creates, updates and deletes in dependency order, and DependsOn overrides its default
   * parallelism (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-dependson.html):
   * shard n rolls only after shard n-1's update has finished.
   */
  private chainDeployments(shards: Shard[]): void {
    for (let i = 1; i < shards.length; i++) {
      shards[i].service.node.addDependency(shards[i - 1].service);
    }
  }

  /** What every shard may do besides receiving from its own queue, in one policy shared by all task roles. */
  private grantShardAccess(shards: Shard[], topicKey: kms.IKey | undefined): void {
    const policy = new iam.Policy(this, 'ShardAccess', { roles: shards.map(s => s.role) });
    policy.addStatements(
      new iam.PolicyStatement({ sid: 'PublishToShards', actions: ['sns:Publish'], resources: [this.topic.topicArn] }),
      new iam.PolicyStatement({ sid: 'ReplyToShards', actions: ['sqs:SendMessage'], resources: [this.shardQueueArnPattern()] }),
    );
    const sendTo = [this.replyQueue?.queueArn, this.workQueue?.queue.queueArn].filter((arn): arn is string => arn !== undefined);
    if (sendTo.length > 0) {
      policy.addStatements(new iam.PolicyStatement({ sid: 'ReplyAndOffload', actions: ['sqs:SendMessage'], resources: sendTo }));
    }
    // The AWS managed SNS key admits every publisher of the account; a customer managed one needs a grant.
    if (topicKey) {
      policy.addStatements(new iam.PolicyStatement({ sid: 'TopicKey', actions: ['kms:Decrypt', 'kms:GenerateDataKey*'], resources: [topicKey.keyArn] }));
    }
  }

  /** The ARN of every shard queue of this bot (and no dead-letter queue: those are named `-dlq-shard-`). */
  private shardQueueArnPattern(): string {
    return Stack.of(this).formatArn({ service: 'sqs', resource: `${this.queueNamePrefix}-shard-*`, arnFormat: ArnFormat.NO_RESOURCE_NAME });
  }

  private createFunction(id: string, options: BotCommandApiOptions | BotWorkerOptions, defaults: { memorySize: number; timeout: Duration },
    environment: { [key: string]: string }, description: string): lambda.Function {
    return new lambda.Function(this, id, {
      code: options.code,
      handler: options.handler,
      runtime: options.runtime ?? lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: options.memorySize ?? defaults.memorySize,
      timeout: options.timeout ?? defaults.timeout,
      description,
      vpc: this.vpc,
      vpcSubnets: this.subnets,
      securityGroups: [this.securityGroup],
      logGroup: constructLogGroup(this, `${id}Logs`, { ...this.logSettings, removalPolicy: this.logRemovalPolicy }),
      environment: { ...options.environment, ...environment },
    });
  }

  private createWorker(options: BotWorkerOptions, workQueue: sqs.Queue): lambda.Function {
    const fn = this.createFunction('Worker', options, { memorySize: 512, timeout: Duration.seconds(60) }, {},
      `Offloaded work of ${this.node.path}`);
    fn.addEventSource(new sources.SqsEventSource(workQueue, {
      batchSize: options.batchSize ?? 10,
      maxConcurrency: options.maxConcurrency ?? 5,
      reportBatchItemFailures: true,
    }));
    // A worker answers a request by sending to its replyTo: a shard queue or the command reply queue.
    this.grantSendToShards(fn);
    if (this.replyQueue) {
      this.replyQueue.grantSendMessages(fn);
    }
    return fn;
  }

  private createCommandFunction(options: BotCommandApiOptions, replyQueue: sqs.Queue): lambda.Function {
    const fn = this.createFunction('Commands', options, { memorySize: 256, timeout: Duration.seconds(10) }, {
      [EnvContract.BOT_TOPIC_ARN]: this.topic.topicArn,
      [EnvContract.BOT_REPLY_QUEUE_URL]: replyQueue.queueUrl,
      [EnvContract.SHARD_COUNT]: String(this.shardCount),
    }, `Commands to the shards of ${this.node.path}`);
    this.grantPublish(fn);
    replyQueue.grantConsumeMessages(fn);
    return fn;
  }

  private createCommandApi(options: BotCommandApiOptions, fn: lambda.Function): { api: apigwv2.HttpApi; route: apigwv2.HttpRoute } {
    const api = new apigwv2.HttpApi(this, 'CommandApi', {
      description: `Commands to the shards of ${this.node.path}`,
      createDefaultStage: false,
    });
    const accessLogs = constructLogGroup(this, 'CommandApiAccessLogs', { ...this.logSettings, removalPolicy: this.logRemovalPolicy });
    new apigwv2.HttpStage(this, 'CommandApiStage', {
      httpApi: api,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: options.throttlingRateLimit ?? 10, burstLimit: options.throttlingBurstLimit ?? 20 },
      accessLogSettings: { destination: new apigwv2.LogGroupLogDestination(accessLogs) },
    });
    const [route] = api.addRoutes({
      path: options.path ?? '/commands',
      methods: [apigwv2.HttpMethod.POST],
      integration: new integrations.HttpLambdaIntegration('Commands', fn),
      authorizer: options.authorizer ?? new authorizers.HttpIamAuthorizer(),
    });
    const cfn = route.node.defaultChild as apigwv2.CfnRoute;
    if (cfn.authorizationType === undefined || cfn.authorizationType === 'NONE') {
      invalidProp(this, 'commandApi.authorizer', options.authorizer?.constructor.name,
        'leaves the command route open to anyone, and commands reach every shard',
        'leave authorizer unset (IAM, granted with grantInvokeCommands) or give a JWT or Lambda authorizer');
    }
    acknowledgeApiInvokePermissions(route, fn);
    return { api, route };
  }

  private acknowledgeFindings(props: ShardedBotProps): void {
    for (const taskDefinition of this.taskDefinitions) {
      acknowledgeNag(taskDefinition, 'ECS2',
        `The container environment holds the non-secret environment contract (shard id and count, topic and queue addresses${props.environment ? ' and the variables given as environment' : ''}); the token is injected from Secrets Manager as an ECS secret.`);
    }
    const executionPolicy = this.executionRole.node.tryFindChild('DefaultPolicy')?.node.defaultChild;
    if (executionPolicy instanceof iam.CfnPolicy) {
      acknowledgeWildcards(executionPolicy,
        'ecr:GetAuthorizationToken, which ECS needs to pull the image, does not support resource-level permissions and must be granted on all resources.');
    }
    const shardAccess = this.node.tryFindChild('ShardAccess')?.node.defaultChild;
    if (shardAccess instanceof iam.CfnPolicy) {
      acknowledgeWildcards(shardAccess,
        'The resource wildcard names exactly this bot\'s shard queues by their common name prefix, so every shard can answer any other without one statement per queue; kms:GenerateDataKey* (only with a customer managed topic key) is the data-key family SNS needs from a publisher.');
    }
    for (const fn of [this.workerFunction, this.commandFunction]) {
      if (!fn?.role) {
        continue;
      }
      for (const managed of ['AWSLambdaBasicExecutionRole', 'AWSLambdaVPCAccessExecutionRole']) {
        acknowledgeNag(fn.role, `IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/${managed}]`,
          `The function uses ${managed} only to write its own logs and attach its network interfaces in the bot's VPC.`);
      }
      const policy = fn.role.node.tryFindChild('DefaultPolicy')?.node.defaultChild;
      if (policy instanceof iam.CfnPolicy) {
        acknowledgeWildcards(policy,
          'The resource wildcard names exactly this bot\'s shard queues by their common name prefix; kms:GenerateDataKey* (only with a customer managed topic key) is the data-key family SNS needs from a publisher.');
      }
    }
    if (this.replyQueue) {
      const reason = 'A reply queue holds answers for a caller that waits at most a few seconds; a reply nobody reads expires after five minutes and must not be redriven.';
      acknowledgeNag(this.replyQueue, 'SQS3', reason);
      acknowledgeControl(this.replyQueue, 'sqs_dlq_check', reason);
    }
  }
}
