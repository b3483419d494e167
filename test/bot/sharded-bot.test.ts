import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { RedisPubSubBus, ShardedBot, ShardedBotProps } from '../../src';
import { stackWithVpc, testImage } from '../support/stacks';

const code = lambda.Code.fromInline('exports.handler = async () => ({})');

function build(overrides: Partial<ShardedBotProps> = {}): { stack: Stack; bot: ShardedBot; t: Template; token: secretsmanager.Secret; vpc: ec2.Vpc } {
  const { stack, vpc } = stackWithVpc();
  const token = new secretsmanager.Secret(stack, 'Token');
  const bot = new ShardedBot(stack, 'Bot', { vpc, image: testImage, shardCount: 4, tokenSecret: token, ...overrides });
  return { stack, bot, t: Template.fromStack(stack), token, vpc };
}

/** Resources of a type, by logical ID, in template order. */
function resources(t: Template, type: string): [string, any][] {
  return Object.entries(t.findResources(type));
}

function environmentOf(taskDefinition: any): Record<string, unknown> {
  return Object.fromEntries(taskDefinition.Properties.ContainerDefinitions[0].Environment.map((e: any) => [e.Name, e.Value]));
}

function logicalId(stack: Stack, construct: { node: { defaultChild?: unknown } }): string {
  return stack.resolve((construct.node.defaultChild as any).logicalId);
}

/** Whether an IAM resource pattern with `*` (as the template resolves it) matches a name. */
function matchesPattern(pattern: any, name: string): boolean {
  const parts: string[] = pattern['Fn::Join'][1].map((p: unknown) => (typeof p === 'string' ? p : '<token>'));
  const glob = parts.join('').split(':').pop()!;
  return new RegExp(`^${glob.split('*').map(s => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`).test(name);
}

describe('ShardedBot shards', () => {
  const { stack, bot, t, token } = build();

  test('one Fargate service per shard, each with exactly one task', () => {
    const services = resources(t, 'AWS::ECS::Service');
    expect(services).toHaveLength(4);
    expect(bot.services).toHaveLength(4);
    for (const [, service] of services) {
      expect(service.Properties).toMatchObject({ DesiredCount: 1, LaunchType: 'FARGATE' });
    }
  });

  // With minimum 0 % and maximum 100 % of one desired task, ECS stops the running task before it starts
  // the new one (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeploymentConfiguration.html);
  // rebalancing would start a task in another zone before stopping one
  // (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-rebalancing.html).
  test('a deploy stops the old task before starting the new one, and never rebalances across zones', () => {
    for (const [, service] of resources(t, 'AWS::ECS::Service')) {
      expect(service.Properties.DeploymentConfiguration).toMatchObject({
        MinimumHealthyPercent: 0,
        MaximumPercent: 100,
        DeploymentCircuitBreaker: { Enable: true, Rollback: true },
      });
      expect(service.Properties.AvailabilityZoneRebalancing).toBe('DISABLED');
      expect(service.Properties.DeploymentController).toEqual({ Type: 'ECS' });
    }
  });

  // DependsOn orders updates too, overriding CloudFormation's parallelism:
  // https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-dependson.html
  test('shards roll one after another: each service depends on the previous shard\'s service only', () => {
    const ids = bot.services.map(s => logicalId(stack, s));
    const template = t.toJSON().Resources;
    for (let i = 0; i < ids.length; i++) {
      const serviceDependencies = (template[ids[i]].DependsOn ?? []).filter((d: string) => ids.includes(d));
      expect(serviceDependencies).toEqual(i === 0 ? [] : [ids[i - 1]]);
    }
  });

  test('each task knows its shard, the shard count, the topic and its own queue', () => {
    const topic = logicalId(stack, bot.topic);
    bot.taskDefinitions.forEach((taskDefinition, shardId) => {
      const resource = t.toJSON().Resources[logicalId(stack, taskDefinition)];
      expect(environmentOf(resource)).toEqual({
        SHARD_ID: String(shardId),
        SHARD_COUNT: '4',
        BOT_TOPIC_ARN: { Ref: topic },
        BOT_QUEUE_URL: { Ref: logicalId(stack, bot.shardQueues[shardId].queue) },
      });
    });
  });

  test('the token is an ECS secret from Secrets Manager, never a plain variable', () => {
    for (const [, taskDefinition] of resources(t, 'AWS::ECS::TaskDefinition')) {
      const container = taskDefinition.Properties.ContainerDefinitions[0];
      expect(container.Secrets).toEqual([{ Name: 'BOT_TOKEN', ValueFrom: { Ref: logicalId(stack, token) } }]);
      expect(JSON.stringify(container.Environment)).not.toContain('BOT_TOKEN');
    }
    t.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: logicalId(stack, bot.executionRole) }],
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'], Resource: { Ref: logicalId(stack, token) } })]) },
    });
  });

  test('small ARM64 tasks, read-only root filesystem, non-root user, logs per shard', () => {
    bot.taskDefinitions.forEach((taskDefinition, shardId) => {
      const resource = t.toJSON().Resources[logicalId(stack, taskDefinition)];
      expect(resource.Properties).toMatchObject({ Cpu: '256', Memory: '512', RuntimePlatform: { CpuArchitecture: 'ARM64' } });
      expect(resource.Properties.ContainerDefinitions[0]).toMatchObject({
        ReadonlyRootFilesystem: true,
        User: '1000',
        StopTimeout: 10,
        LogConfiguration: { LogDriver: 'awslogs', Options: { 'awslogs-stream-prefix': `shard-${shardId}` } },
      });
    });
  });

  test('the shards dial out on 443 only and admit nothing', () => {
    const [[, group]] = resources(t, 'AWS::EC2::SecurityGroup');
    expect(group.Properties.SecurityGroupEgress).toEqual([expect.objectContaining({ CidrIp: '0.0.0.0/0', FromPort: 443, ToPort: 443, IpProtocol: 'tcp' })]);
    expect(group.Properties.SecurityGroupIngress).toBeUndefined();
    for (const [, service] of resources(t, 'AWS::ECS::Service')) {
      expect(service.Properties.NetworkConfiguration.AwsvpcConfiguration.AssignPublicIp).toBe('DISABLED');
    }
  });
});

describe('ShardedBot messaging', () => {
  const { stack, bot, t } = build();
  const topic = () => logicalId(stack, bot.topic);

  test('each shard queue is subscribed raw with a filter policy admitting its id and "all"', () => {
    bot.shardQueues.forEach((shard, shardId) => {
      t.hasResourceProperties('AWS::SNS::Subscription', {
        Protocol: 'sqs',
        TopicArn: { Ref: topic() },
        Endpoint: { 'Fn::GetAtt': [logicalId(stack, shard.queue), 'Arn'] },
        RawMessageDelivery: true,
        FilterPolicy: { shard: [String(shardId), 'all'] },
      });
    });
    expect(resources(t, 'AWS::SNS::Subscription')).toHaveLength(4);
  });

  test('the topic and every queue are encrypted and accept only TLS', () => {
    t.hasResourceProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: { 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('alias/aws/sns')])] },
    });
    t.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
    const queues = resources(t, 'AWS::SQS::Queue');
    expect(queues).toHaveLength(8);
    for (const [id, queue] of queues) {
      expect(queue.Properties.SqsManagedSseEnabled).toBe(true);
      const policies = resources(t, 'AWS::SQS::QueuePolicy').filter(([, p]) => JSON.stringify(p.Properties.Queues) === JSON.stringify([{ Ref: id }]));
      expect(policies).toHaveLength(1);
      expect(policies[0][1].Properties.PolicyDocument.Statement).toEqual(expect.arrayContaining([
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      ]));
    }
  });

  test('each shard queue has its own dead-letter queue after 5 receives, and an alarm while it holds anything', () => {
    const template = t.toJSON().Resources;
    bot.shardQueues.forEach(shard => {
      const dlq = logicalId(stack, shard.deadLetterQueue!);
      expect(template[logicalId(stack, shard.queue)].Properties.RedrivePolicy).toEqual({
        deadLetterTargetArn: { 'Fn::GetAtt': [dlq, 'Arn'] },
        maxReceiveCount: 5,
      });
      expect(template[dlq].Properties.MessageRetentionPeriod).toBe(1_209_600);
      t.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Namespace: 'AWS/SQS',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlq, 'QueueName'] } }],
        Statistic: 'Maximum',
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        EvaluationPeriods: 1,
        TreatMissingData: 'notBreaching',
      });
    });
    expect(bot.deadLetterAlarms).toHaveLength(4);
  });

  test('only shard n may receive from queue n', () => {
    const roles = bot.taskDefinitions.map(td => logicalId(stack, td.taskRole as iam.Role));
    bot.shardQueues.forEach((shard, shardId) => {
      const [[, policy]] = resources(t, 'AWS::SQS::QueuePolicy')
        .filter(([, p]) => JSON.stringify(p.Properties.Queues) === JSON.stringify([{ Ref: logicalId(stack, shard.queue) }]));
      const receivers = policy.Properties.PolicyDocument.Statement
        .filter((s: any) => s.Effect === 'Allow' && [].concat(s.Action).includes('sqs:ReceiveMessage' as never))
        .map((s: any) => s.Principal.AWS['Fn::GetAtt'][0]);
      expect(receivers).toEqual([roles[shardId]]);
    });
    // No identity policy anywhere lets a shard role receive.
    for (const [, policy] of resources(t, 'AWS::IAM::Policy')) {
      const attached = JSON.stringify(policy.Properties.Roles);
      if (roles.some(r => attached.includes(r))) {
        expect(JSON.stringify(policy.Properties.PolicyDocument)).not.toContain('sqs:ReceiveMessage');
      }
    }
  });

  test('every shard may publish and send to every shard queue, but not into a dead-letter queue', () => {
    const roles = bot.taskDefinitions.map(td => ({ Ref: logicalId(stack, td.taskRole as iam.Role) }));
    const [[, access]] = resources(t, 'AWS::IAM::Policy').filter(([id]) => id.startsWith('BotShardAccess'));
    expect(access.Properties.Roles).toEqual(roles);
    const statements = access.Properties.PolicyDocument.Statement;
    expect(statements).toEqual(expect.arrayContaining([
      expect.objectContaining({ Action: 'sns:Publish', Resource: { Ref: topic() } }),
    ]));
    const send = statements.find((s: any) => s.Sid === 'ReplyToShards');
    expect(send.Action).toBe('sqs:SendMessage');
    const template = t.toJSON().Resources;
    for (const shard of bot.shardQueues) {
      expect(matchesPattern(send.Resource, template[logicalId(stack, shard.queue)].Properties.QueueName)).toBe(true);
      expect(matchesPattern(send.Resource, template[logicalId(stack, shard.deadLetterQueue!)].Properties.QueueName)).toBe(false);
    }
  });

  test('queue names stay within SQS\'s 80 characters even for a deeply nested bot', () => {
    const { stack: deep } = stackWithVpc();
    const scope = new ec2.Vpc(deep, 'AVeryLongConstructIdThatKeepsGoingOnAndOnForQuiteSomeTimeIndeed', { maxAzs: 1 });
    const bot2 = new ShardedBot(scope, 'AnotherRatherLongConstructIdForTheBotItselfToTestNames', {
      vpc: scope, image: testImage, shardCount: ShardedBot.MAX_SHARDS, tokenSecret: new secretsmanager.Secret(deep, 'Token'),
    });
    const names = Object.values<any>(Template.fromStack(deep).findResources('AWS::SQS::Queue')).map(q => q.Properties.QueueName);
    expect(names).toHaveLength(2 * bot2.shardCount);
    for (const name of names) {
      expect(name).toMatch(/^[A-Za-z0-9_-]{1,80}$/);
    }
  });
});

describe('ShardedBot command API', () => {
  const { stack, bot, t } = build({ commandApi: { code, handler: 'index.handler' } });

  test('POST /commands behind an IAM authorizer, with access logs and throttling', () => {
    t.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'POST /commands', AuthorizationType: 'AWS_IAM' });
    t.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      DefaultRouteSettings: { ThrottlingRateLimit: 10, ThrottlingBurstLimit: 20 },
      AccessLogSettings: { DestinationArn: Match.anyValue() },
    });
    expect(resources(t, 'AWS::ApiGatewayV2::Route')).toHaveLength(1);
  });

  test('the command function knows the topic, its reply queue and the shard count, and may publish and read replies', () => {
    const fn = logicalId(stack, bot.commandFunction!);
    const replies = logicalId(stack, bot.replyQueue!);
    t.hasResourceProperties('AWS::Lambda::Function', {
      Architectures: ['arm64'],
      Environment: { Variables: { BOT_TOPIC_ARN: { Ref: logicalId(stack, bot.topic) }, BOT_REPLY_QUEUE_URL: { Ref: replies }, SHARD_COUNT: '4' } },
      VpcConfig: Match.objectLike({ SecurityGroupIds: [{ 'Fn::GetAtt': [logicalId(stack, bot.securityGroup), 'GroupId'] }] }),
    });
    const role = t.toJSON().Resources[fn].Properties.Role['Fn::GetAtt'][0];
    const [[, policy]] = resources(t, 'AWS::IAM::Policy').filter(([, p]) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: role }]));
    expect(policy.Properties.PolicyDocument.Statement).toEqual(expect.arrayContaining([
      expect.objectContaining({ Action: 'sns:Publish', Resource: { Ref: logicalId(stack, bot.topic) } }),
      expect.objectContaining({ Action: expect.arrayContaining(['sqs:ReceiveMessage', 'sqs:DeleteMessage']), Resource: { 'Fn::GetAtt': [replies, 'Arn'] } }),
    ]));
  });

  test('the reply queue is shared by invocations: nothing hidden, stale replies expire after 5 minutes', () => {
    const replyQueue = t.toJSON().Resources[logicalId(stack, bot.replyQueue!)];
    expect(replyQueue.Properties).toMatchObject({ VisibilityTimeout: 0, MessageRetentionPeriod: 300, SqsManagedSseEnabled: true });
  });

  test('shards may send replies to the command reply queue', () => {
    const [[, access]] = resources(t, 'AWS::IAM::Policy').filter(([id]) => id.startsWith('BotShardAccess'));
    expect(access.Properties.PolicyDocument.Statement).toEqual(expect.arrayContaining([
      expect.objectContaining({ Action: 'sqs:SendMessage', Resource: { 'Fn::GetAtt': [logicalId(stack, bot.replyQueue!), 'Arn'] } }),
    ]));
  });

  test('grantInvokeCommands lets a principal call the route', () => {
    const { stack: fresh, vpc } = stackWithVpc();
    const commands = new ShardedBot(fresh, 'Bot', {
      vpc, image: testImage, shardCount: 1, tokenSecret: new secretsmanager.Secret(fresh, 'Token'), commandApi: { code, handler: 'index.handler' },
    });
    const caller = new iam.Role(fresh, 'Caller', { assumedBy: new iam.AccountRootPrincipal() });
    commands.grantInvokeCommands(caller);
    Template.fromStack(fresh).hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: logicalId(fresh, caller) }],
      PolicyDocument: { Statement: [Match.objectLike({ Action: 'execute-api:Invoke' })] },
    });
  });
});

describe('ShardedBot workers', () => {
  const { stack, bot, t } = build({ worker: { code, handler: 'index.handler' }, commandApi: { code, handler: 'index.handler' } });

  test('the worker reads the work queue in batches, reporting failed records one by one', () => {
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [logicalId(stack, bot.workQueue!.queue), 'Arn'] },
      FunctionName: { Ref: logicalId(stack, bot.workerFunction!) },
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 5 },
    });
  });

  test('the work queue hides a record six times the function timeout, and has a dead-letter queue with an alarm', () => {
    const work = t.toJSON().Resources[logicalId(stack, bot.workQueue!.queue)];
    // AWS: at least six times the function timeout for an SQS event source
    // (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html).
    const worker = t.toJSON().Resources[logicalId(stack, bot.workerFunction!)];
    expect(work.Properties.VisibilityTimeout).toBeGreaterThanOrEqual(6 * worker.Properties.Timeout);
    expect(work.Properties.VisibilityTimeout).toBe(360);
    expect(work.Properties.RedrivePolicy.maxReceiveCount).toBe(5);
    expect(bot.workQueue!.deadLetterAlarm).toBeDefined();
    expect(bot.deadLetterAlarms).toHaveLength(5);
  });

  test('shards learn the work queue and may send to it', () => {
    for (const taskDefinition of bot.taskDefinitions) {
      const environment = environmentOf(t.toJSON().Resources[logicalId(stack, taskDefinition)]);
      expect(environment.BOT_WORK_QUEUE_URL).toEqual({ Ref: logicalId(stack, bot.workQueue!.queue) });
    }
    const [[, access]] = resources(t, 'AWS::IAM::Policy').filter(([id]) => id.startsWith('BotShardAccess'));
    const offload = access.Properties.PolicyDocument.Statement.find((s: any) => s.Sid === 'ReplyAndOffload');
    expect(offload.Resource).toContainEqual({ 'Fn::GetAtt': [logicalId(stack, bot.workQueue!.queue), 'Arn'] });
  });

  test('the worker may answer a shard or the command function', () => {
    const role = t.toJSON().Resources[logicalId(stack, bot.workerFunction!)].Properties.Role['Fn::GetAtt'][0];
    const [[, policy]] = resources(t, 'AWS::IAM::Policy').filter(([, p]) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: role }]));
    const sends = policy.Properties.PolicyDocument.Statement.filter((s: any) => [].concat(s.Action).includes('sqs:SendMessage' as never));
    expect(sends.map((s: any) => s.Resource)).toEqual(expect.arrayContaining([
      { 'Fn::GetAtt': [logicalId(stack, bot.replyQueue!), 'Arn'] },
      expect.objectContaining({ 'Fn::Join': expect.anything() }),
    ]));
  });
});

describe('ShardedBot options', () => {
  test('a bus is connected to every shard: endpoint in the environment, token as an ECS secret', () => {
    const { stack, vpc } = stackWithVpc();
    const bus = new RedisPubSubBus(stack, 'Bus', { vpc });
    const bot = new ShardedBot(stack, 'Bot', { vpc, image: testImage, shardCount: 3, tokenSecret: new secretsmanager.Secret(stack, 'Token'), bus });
    const t = Template.fromStack(stack);
    for (const taskDefinition of bot.taskDefinitions) {
      const container = t.toJSON().Resources[logicalId(stack, taskDefinition)].Properties.ContainerDefinitions[0];
      expect(Object.keys(environmentOf({ Properties: { ContainerDefinitions: [container] } }))).toEqual(expect.arrayContaining(['REALTIME_BUS_URL', 'REALTIME_BUS_CLUSTER']));
      expect(container.Secrets.map((s: any) => s.Name)).toEqual(['BOT_TOKEN', 'REALTIME_BUS_AUTH']);
    }
    t.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('BusSecurityGroup'), 'GroupId'] },
      SourceSecurityGroupId: { 'Fn::GetAtt': [logicalId(stack, bot.securityGroup), 'GroupId'] },
      FromPort: 6390,
    });
  });

  test('sizes, stop timeout, service names and extra environment are passed through', () => {
    const { stack, bot, t } = build({
      cpu: 512,
      memoryLimitMiB: 1024,
      stopTimeout: Duration.seconds(30),
      serviceNamePrefix: 'alyx',
      environment: { LOG_LEVEL: 'debug' },
      maxReceiveCount: 3,
    });
    const resource = t.toJSON().Resources[logicalId(stack, bot.taskDefinitions[2])];
    expect(resource.Properties).toMatchObject({ Cpu: '512', Memory: '1024' });
    expect(resource.Properties.ContainerDefinitions[0].StopTimeout).toBe(30);
    expect(environmentOf(resource)).toMatchObject({ LOG_LEVEL: 'debug', SHARD_ID: '2' });
    t.hasResourceProperties('AWS::ECS::Service', { ServiceName: 'alyx-shard-2' });
    expect(t.toJSON().Resources[logicalId(stack, bot.shardQueues[1].queue)].Properties.RedrivePolicy.maxReceiveCount).toBe(3);
  });

  test('a JSON field of the secret can hold the token', () => {
    const { stack, t, token } = build({ tokenSecretField: 'discord' });
    const [[, taskDefinition]] = resources(t, 'AWS::ECS::TaskDefinition');
    expect(stack.resolve(taskDefinition.Properties.ContainerDefinitions[0].Secrets[0].ValueFrom))
      .toEqual({ 'Fn::Join': ['', [{ Ref: logicalId(stack, token) }, ':discord::']] });
  });

  test('without a VPC or cluster the bot makes a VPC with flow logs and a cluster with Container Insights', () => {
    const { stack } = stackWithVpc();
    new ShardedBot(stack, 'Own', { image: testImage, shardCount: 1, tokenSecret: new secretsmanager.Secret(stack, 'Token') });
    const t = Template.fromStack(stack);
    expect(resources(t, 'AWS::EC2::VPC')).toHaveLength(2);
    t.hasResourceProperties('AWS::ECS::Cluster', { ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }] });
    expect(resources(t, 'AWS::EC2::FlowLog')).toHaveLength(2);
  });

  test('an existing cluster is used as it is', () => {
    const { stack, vpc } = stackWithVpc();
    const cluster = new ecs.Cluster(stack, 'Cluster', { vpc });
    const bot = new ShardedBot(stack, 'Bot', { cluster, image: testImage, shardCount: 2, tokenSecret: new secretsmanager.Secret(stack, 'Token') });
    expect(bot.cluster).toBe(cluster);
    expect(resources(Template.fromStack(stack), 'AWS::ECS::Cluster')).toHaveLength(1);
  });
});

describe('ShardedBot keys, health and bus egress', () => {
  test('a customer managed topic key: shards and the command function may use it to publish', () => {
    const { stack, vpc } = stackWithVpc();
    const key = new kms.Key(stack, 'TopicKey', { enableKeyRotation: true });
    const bot = new ShardedBot(stack, 'Bot', {
      vpc,
      image: testImage,
      shardCount: 2,
      tokenSecret: new secretsmanager.Secret(stack, 'Token'),
      topicEncryptionKey: key,
      commandApi: { code, handler: 'index.handler' },
    });
    const t = Template.fromStack(stack);
    const keyArn = { 'Fn::GetAtt': [logicalId(stack, key), 'Arn'] };
    t.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: keyArn });
    const [[, access]] = resources(t, 'AWS::IAM::Policy').filter(([id]) => id.startsWith('BotShardAccess'));
    expect(access.Properties.PolicyDocument.Statement).toContainEqual({
      Sid: 'TopicKey', Effect: 'Allow', Action: ['kms:Decrypt', 'kms:GenerateDataKey*'], Resource: keyArn,
    });
    const role = t.toJSON().Resources[logicalId(stack, bot.commandFunction!)].Properties.Role['Fn::GetAtt'][0];
    const [[, policy]] = resources(t, 'AWS::IAM::Policy').filter(([, p]) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: role }]));
    expect(JSON.stringify(policy.Properties.PolicyDocument)).toContain('kms:GenerateDataKey*');
  });

  test('a health check is passed to every shard container', () => {
    const { t } = build({ healthCheck: { command: ['CMD', 'node', 'health.js'], interval: Duration.seconds(30) } });
    for (const [, taskDefinition] of resources(t, 'AWS::ECS::TaskDefinition')) {
      expect(taskDefinition.Properties.ContainerDefinitions[0].HealthCheck).toMatchObject({ Command: ['CMD', 'node', 'health.js'], Interval: 30 });
    }
  });

  test('a connected bus opens the shards\' egress to its port, next to HTTPS', () => {
    const { stack, vpc } = stackWithVpc();
    const bus = new RedisPubSubBus(stack, 'Bus', { vpc });
    const bot = new ShardedBot(stack, 'Bot', { vpc, image: testImage, shardCount: 2, tokenSecret: new secretsmanager.Secret(stack, 'Token'), bus });
    const t = Template.fromStack(stack);
    const egress = [
      ...t.toJSON().Resources[logicalId(stack, bot.securityGroup)].Properties.SecurityGroupEgress,
      ...resources(t, 'AWS::EC2::SecurityGroupEgress')
        .filter(([, r]) => JSON.stringify(r.Properties.GroupId).includes(logicalId(stack, bot.securityGroup)))
        .map(([, r]) => r.Properties),
    ];
    expect(egress.map(e => e.FromPort).sort()).toEqual([443, 6390]);
  });

  test('every log group the bot creates uses logEncryptionKey and is kept a year', () => {
    const { stack, vpc } = stackWithVpc();
    const key = new kms.Key(stack, 'LogKey', { enableKeyRotation: true });
    new ShardedBot(stack, 'Bot', {
      vpc,
      image: testImage,
      shardCount: 2,
      tokenSecret: new secretsmanager.Secret(stack, 'Token'),
      logEncryptionKey: key,
      commandApi: { code, handler: 'index.handler' },
      worker: { code, handler: 'index.handler' },
    });
    const groups = resources(Template.fromStack(stack), 'AWS::Logs::LogGroup').filter(([id]) => id.startsWith('Bot'));
    expect(groups.map(([id]) => id.replace(/[0-9A-F]{8}$/, '')).sort()).toEqual(['BotCommandApiAccessLogs', 'BotCommandsLogs', 'BotLogs', 'BotWorkerLogs']);
    for (const [, group] of groups) {
      expect(group.Properties).toMatchObject({ RetentionInDays: 365, KmsKeyId: { 'Fn::GetAtt': [logicalId(stack, key), 'Arn'] } });
      expect(group.DeletionPolicy).toBe('Retain');
    }
  });
});

describe('ShardedBot grants and metrics for other principals', () => {
  test('grantPublish and grantSendToShards let another principal ask the shards and answer them', () => {
    const { stack, vpc } = stackWithVpc();
    const bot = new ShardedBot(stack, 'Bot', { vpc, image: testImage, shardCount: 2, tokenSecret: new secretsmanager.Secret(stack, 'Token') });
    const other = new iam.Role(stack, 'Other', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    bot.grantPublish(other);
    bot.grantSendToShards(other);
    const t = Template.fromStack(stack);
    const [[, policy]] = resources(t, 'AWS::IAM::Policy').filter(([, p]) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: logicalId(stack, other) }]));
    const statements = policy.Properties.PolicyDocument.Statement;
    expect(statements).toContainEqual(expect.objectContaining({ Action: 'sns:Publish', Resource: { Ref: logicalId(stack, bot.topic) } }));
    const send = statements.find((s: any) => s.Action === 'sqs:SendMessage');
    for (const shard of bot.shardQueues) {
      expect(matchesPattern(send.Resource, t.toJSON().Resources[logicalId(stack, shard.queue)].Properties.QueueName)).toBe(true);
    }
  });

  test('metricShardBacklogAge watches one shard\'s queue, and refuses a shard the bot does not have', () => {
    const { stack, bot } = build();
    const metric = bot.metricShardBacklogAge(2);
    expect(metric.metricName).toBe('ApproximateAgeOfOldestMessage');
    expect(metric.statistic).toBe('Maximum');
    expect(stack.resolve(metric.dimensions)).toEqual({ QueueName: { 'Fn::GetAtt': [logicalId(stack, bot.shardQueues[2].queue), 'QueueName'] } });
    expect(() => bot.metricShardBacklogAge(4)).toThrow('Test/Bot: metricShardBacklogAge shardId 4 is not a whole number from 0 to 3; use a value from 0 to 3');
  });
});
