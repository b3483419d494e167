import { Duration, RemovalPolicy, Size, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { nagFindings } from '../../examples/shared/nag';
import { BusEngine, BusMode, IRedisPubSubBus, NodeAggregation, RealtimeFargateService, RedisPubSubBus, RedisPubSubBusProps } from '../../src';
import { controlFindings } from '../support/controls';
import { onlyResource, stackWithVpc, template, testImage } from '../support/stacks';

function bus(overrides: Partial<RedisPubSubBusProps> = {}): { stack: Stack; vpc: ec2.Vpc; bus: RedisPubSubBus } {
  const { stack, vpc } = stackWithVpc();
  return { stack, vpc, bus: new RedisPubSubBus(stack, 'Bus', { vpc, ...overrides }) };
}

/** Retention and key of the bus's log group. */
function busLogGroup(stack: Stack): unknown[] {
  const group = stack.node.findChild('Bus').node.findChild('Logs').node.defaultChild as logs.CfnLogGroup;
  return stack.resolve([group.retentionInDays, group.kmsKeyId]);
}

function taskEnv(t: Template): Record<string, any> {
  const { props } = onlyResource(t, 'AWS::ECS::TaskDefinition');
  return Object.fromEntries(props.ContainerDefinitions[0].Environment.map((e: any) => [e.Name, e.Value]));
}

describe('RedisPubSubBus defaults (provisioned)', () => {
  const { stack, bus: b } = bus();
  const t = template(stack);

  test('creates a Valkey 8 replication group: one replica, Multi-AZ, automatic failover, TLS, at-rest encryption, AUTH', () => {
    t.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
      Engine: 'valkey',
      EngineVersion: '8.0',
      CacheNodeType: 'cache.t4g.small',
      NumCacheClusters: 2,
      AutomaticFailoverEnabled: true,
      MultiAZEnabled: true,
      Port: 6390,
      TransitEncryptionEnabled: true,
      TransitEncryptionMode: 'required',
      AtRestEncryptionEnabled: true,
      AutoMinorVersionUpgrade: true,
      SnapshotRetentionLimit: 7,
      AuthToken: { 'Fn::Join': ['', ['{{resolve:secretsmanager:', { Ref: Match.stringLikeRegexp('BusAuthToken') }, ':SecretString:::}}']] },
      SecurityGroupIds: [{ 'Fn::GetAtt': [Match.stringLikeRegexp('BusSecurityGroup'), 'GroupId'] }],
    });
    expect(onlyResource(t, 'AWS::ElastiCache::ReplicationGroup').resource.DeletionPolicy).toBe('Snapshot');
  });

  test('generates a 64-character AUTH token without punctuation', () => {
    t.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: { PasswordLength: 64, ExcludePunctuation: true },
    });
  });

  test('places the cache in the isolated subnets', () => {
    t.hasResourceProperties('AWS::ElastiCache::SubnetGroup', {
      SubnetIds: [{ Ref: Match.stringLikeRegexp('VpcDataSubnet1') }, { Ref: Match.stringLikeRegexp('VpcDataSubnet2') }],
    });
  });

  test('its security group admits nothing and sends nothing until something is connected', () => {
    const { props } = onlyResource(t, 'AWS::EC2::SecurityGroup');
    expect(props.SecurityGroupIngress).toBeUndefined();
    expect(props.SecurityGroupEgress).toEqual([expect.objectContaining({ CidrIp: '255.255.255.255/32' })]);
    t.resourceCountIs('AWS::EC2::SecurityGroupIngress', 0);
  });

  test('delivers the slow log and engine log to CloudWatch Logs', () => {
    t.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
      LogDeliveryConfigurations: [
        Match.objectLike({ LogType: 'slow-log', LogFormat: 'json', DestinationType: 'cloudwatch-logs' }),
        Match.objectLike({ LogType: 'engine-log', LogFormat: 'json', DestinationType: 'cloudwatch-logs' }),
      ],
    });
    expect(busLogGroup(stack)).toEqual([365, undefined]);
  });

  test('exposes a rediss:// URL without the secret, and says it is not cluster mode', () => {
    expect(stack.resolve(b.url)).toEqual({
      'Fn::Join': ['', ['rediss://', { 'Fn::GetAtt': [expect.stringMatching(/^BusReplicationGroup/), 'PrimaryEndPoint.Address'] }, ':6390']],
    });
    expect(b.isClusterMode).toBe(false);
    expect(b.port).toBe(6390);
  });

  test('combines per-node metrics of the replication group', () => {
    const cpu = b.metricEngineCpuUtilization() as any;
    expect(cpu.expression).toBe('MAX([node1, node2])');
    const node2 = stack.resolve(cpu.usingMetrics.node2.dimensions);
    expect(node2).toEqual({ CacheClusterId: { 'Fn::Join': ['-', [{ Ref: expect.stringMatching(/^BusReplicationGroup/) }, '002']] } });
    expect((b.metricCurrentConnections() as any).expression).toBe('SUM([node1, node2])');
    expect((b.metricPubSubCommands() as any).usingMetrics.node1.metricName).toBe('PubSubBasedCmds');
    expect((b.metricNetworkBytesOut() as any).usingMetrics.node1.statistic).toBe('Sum');
    expect((b.metricBytesUsedForCache() as any).usingMetrics.node1.metricName).toBe('BytesUsedForCache');
    expect((b.metric('CurrItems', { aggregation: NodeAggregation.AVG }) as any).expression).toBe('AVG([node1, node2])');
    expect((b.metric('CurrItems') as any).expression).toBe('MAX([node1, node2])');
  });

  test('passes cdk-nag AwsSolutions (AEC1, AEC3-6) with SMG4 acknowledged for the AUTH token', () => {
    expect(nagFindings(stack)).toEqual([]);
  });
});

describe('RedisPubSubBus props', () => {
  test('engine, port, node type, replicas, snapshots, removal policy and log retention', () => {
    const { stack } = bus({
      logRetention: logs.RetentionDays.ONE_WEEK,
      engine: BusEngine.REDIS_7,
      port: 7000,
      mode: BusMode.provisioned({ nodeType: 'cache.m7g.large', replicas: 2 }),
      snapshotRetentionDays: 14,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const t = template(stack);
    t.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
      Engine: 'redis',
      EngineVersion: '7.1',
      Port: 7000,
      CacheNodeType: 'cache.m7g.large',
      NumCacheClusters: 3,
      SnapshotRetentionLimit: 14,
    });
    expect(busLogGroup(stack)).toEqual([7, undefined]);
    expect(onlyResource(t, 'AWS::ElastiCache::ReplicationGroup').resource.DeletionPolicy).toBe('Retain');
    expect(nagFindings(stack)).toEqual([]);
  });

  test('logEncryptionKey encrypts the slow and engine logs, and the bus then passes Control Tower\'s proactive controls', () => {
    const { stack, vpc } = stackWithVpc();
    const key = new kms.Key(stack, 'LogKey');
    new RedisPubSubBus(stack, 'Bus', { vpc, logEncryptionKey: key });
    expect(busLogGroup(stack)).toEqual([365, stack.resolve(key.keyArn)]);
    const statements = onlyResource(template(stack), 'AWS::KMS::Key').props.KeyPolicy.Statement;
    expect(statements.map((s: any) => s.Principal.Service)).toContain('logs.eu-west-1.amazonaws.com');
    expect(controlFindings(stack, 'Test/Bus/')).toEqual([]);
  });

  test('zero replicas turns off failover and Multi-AZ, acknowledging AEC4 on the group only', () => {
    const { stack } = bus({ mode: BusMode.provisioned({ replicas: 0 }) });
    template(stack).hasResourceProperties('AWS::ElastiCache::ReplicationGroup', {
      NumCacheClusters: 1,
      AutomaticFailoverEnabled: false,
      MultiAZEnabled: false,
    });
    expect(nagFindings(stack)).toEqual([]);
  });

  test('BusEngine.of takes any engine version', () => {
    const { stack } = bus({ engine: BusEngine.of('valkey', '8.1') });
    template(stack).hasResourceProperties('AWS::ElastiCache::ReplicationGroup', { Engine: 'valkey', EngineVersion: '8.1' });
    expect(BusEngine.VALKEY_7.majorVersion).toBe('7');
  });

  test('a customer managed key encrypts the cache and the token', () => {
    const { stack, vpc } = stackWithVpc();
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    new RedisPubSubBus(stack, 'Bus', { vpc, encryptionKey: key });
    const t = template(stack);
    t.hasResourceProperties('AWS::ElastiCache::ReplicationGroup', { KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('Key'), 'Arn'] } });
    t.hasResourceProperties('AWS::SecretsManager::Secret', { KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('Key'), 'Arn'] } });
  });

  test('vpcSubnets chooses the subnets; without isolated subnets the private ones are used', () => {
    const chosen = bus({ vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS } });
    template(chosen.stack).hasResourceProperties('AWS::ElastiCache::SubnetGroup', {
      SubnetIds: [{ Ref: Match.stringLikeRegexp('VpcPrivateSubnet1') }, { Ref: Match.stringLikeRegexp('VpcPrivateSubnet2') }],
    });
    const { stack } = stackWithVpc();
    const plainVpc = new ec2.Vpc(stack, 'Plain', { maxAzs: 2 });
    new RedisPubSubBus(stack, 'Bus', { vpc: plainVpc });
    template(stack).hasResourceProperties('AWS::ElastiCache::SubnetGroup', {
      SubnetIds: [{ Ref: Match.stringLikeRegexp('PlainPrivateSubnet1') }, { Ref: Match.stringLikeRegexp('PlainPrivateSubnet2') }],
    });
  });
});

describe('RedisPubSubBus serverless', () => {
  const { stack, bus: b } = bus({ mode: BusMode.serverless({ maxEcpuPerSecond: 100_000, maxDataStorage: Size.gibibytes(10) }) });
  const t = template(stack);

  test('creates a Valkey 8 serverless cache in the isolated subnets with limits, snapshots and encryption', () => {
    t.hasResourceProperties('AWS::ElastiCache::ServerlessCache', {
      Engine: 'valkey',
      MajorEngineVersion: '8',
      ServerlessCacheName: Match.stringLikeRegexp('^test-bus-[a-z0-9]+$'),
      SnapshotRetentionLimit: 7,
      SubnetIds: [{ Ref: Match.stringLikeRegexp('VpcDataSubnet1') }, { Ref: Match.stringLikeRegexp('VpcDataSubnet2') }],
      CacheUsageLimits: { ECPUPerSecond: { Maximum: 100000 }, DataStorage: { Maximum: 10, Unit: 'GB' } },
      UserGroupId: { Ref: Match.stringLikeRegexp('BusUserGroup') },
    });
    expect(onlyResource(t, 'AWS::ElastiCache::ServerlessCache').resource.DeletionPolicy).toBe('Retain');
    t.resourceCountIs('AWS::ElastiCache::ReplicationGroup', 0);
  });

  test('authenticates with the generated token through a user named default', () => {
    t.hasResourceProperties('AWS::ElastiCache::User', {
      UserName: 'default',
      Engine: 'valkey',
      AccessString: 'on ~* &* +@all',
      AuthenticationMode: {
        Type: 'password',
        Passwords: [{ 'Fn::Join': ['', ['{{resolve:secretsmanager:', { Ref: Match.stringLikeRegexp('BusAuthToken') }, ':SecretString:::}}']] }],
      },
    });
    t.hasResourceProperties('AWS::ElastiCache::UserGroup', { Engine: 'valkey', UserIds: [{ Ref: Match.stringLikeRegexp('BusDefaultUser') }] });
  });

  test('is cluster mode on port 6379 and tells connected services so', () => {
    expect(b.isClusterMode).toBe(true);
    expect(b.port).toBe(6379);
    const other = bus({ mode: BusMode.serverless() });
    new RealtimeFargateService(other.stack, 'Service', { vpc: other.vpc, image: testImage, insecureHttp: true, bus: other.bus });
    const env = taskEnv(template(other.stack));
    expect(env.REALTIME_BUS_CLUSTER).toBe('true');
    expect(env.REALTIME_BUS_URL).toEqual({ 'Fn::Join': ['', ['rediss://', { 'Fn::GetAtt': [expect.stringMatching(/^BusServerlessCache/), 'Endpoint.Address'] }, ':6379']] });
  });

  test('metrics use the cache name dimension', () => {
    const m = b.metricCurrentConnections().usingMetrics.m1 as cloudwatch.Metric;
    expect(m.metricName).toBe('CurrConnections');
    expect(stack.resolve(m.dimensions)).toEqual({ ServerlessCacheName: { Ref: expect.stringMatching(/^BusServerlessCache/) } });
    expect((b.metricEngineCpuUtilization().usingMetrics.m1 as cloudwatch.Metric).metricName).toBe('ElastiCacheProcessingUnits');
  });

  test('without limits, sets none', () => {
    const other = bus({ mode: BusMode.serverless() });
    const { props } = onlyResource(template(other.stack), 'AWS::ElastiCache::ServerlessCache');
    expect(props.CacheUsageLimits).toBeUndefined();
  });
});

describe('RedisPubSubBus.connect', () => {
  function connected() {
    const { stack, vpc, bus: b } = bus();
    const svc = new RealtimeFargateService(stack, 'Service', { vpc, image: testImage, insecureHttp: true, bus: b });
    return { stack, vpc, b, svc };
  }

  test('opens exactly the cache port to the service', () => {
    const t = template(connected().stack);
    const ingress = t.findResources('AWS::EC2::SecurityGroupIngress', {
      Properties: { GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('BusSecurityGroup'), 'GroupId'] } },
    });
    expect(Object.values(ingress).map((r: any) => r.Properties)).toEqual([expect.objectContaining({
      IpProtocol: 'tcp',
      FromPort: 6390,
      ToPort: 6390,
      SourceSecurityGroupId: { 'Fn::GetAtt': [expect.stringMatching(/^ServiceSecurityGroup/), 'GroupId'] },
    })]);
  });

  test('injects the URL and cluster flag as variables and the token as an ECS secret', () => {
    const t = template(connected().stack);
    const env = taskEnv(t);
    expect(env.REALTIME_BUS_CLUSTER).toBe('false');
    expect(env.REALTIME_BUS_URL).toEqual({ 'Fn::Join': ['', ['rediss://', { 'Fn::GetAtt': [expect.stringMatching(/^BusReplicationGroup/), 'PrimaryEndPoint.Address'] }, ':6390']] });
    expect(env.REALTIME_BUS_AUTH).toBeUndefined();
    t.hasResourceProperties('AWS::ECS::TaskDefinition', {
      ContainerDefinitions: [Match.objectLike({ Secrets: [{ Name: 'REALTIME_BUS_AUTH', ValueFrom: { Ref: Match.stringLikeRegexp('BusAuthToken') } }] })],
    });
  });

  test('grants the execution role read of the token, and nothing more on it', () => {
    template(connected().stack).hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('ServiceTaskDefinitionExecutionRole') }],
      PolicyDocument: {
        Statement: Match.arrayWith([{
          Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
          Effect: 'Allow',
          Resource: { Ref: Match.stringLikeRegexp('BusAuthToken') },
        }]),
      },
    });
  });

  test('connecting twice changes nothing', () => {
    const { stack, b, svc } = connected();
    b.connect(svc.service);
    const t = template(stack);
    const { props } = onlyResource(t, 'AWS::ECS::TaskDefinition');
    expect(props.ContainerDefinitions[0].Secrets).toHaveLength(1);
    expect(nagFindings(stack)).toEqual([]);
  });

  test('connects a plain FargateService too', () => {
    const { stack, vpc, bus: b } = bus();
    const cluster = new ecs.Cluster(stack, 'Cluster', { vpc });
    const taskDefinition = new ecs.FargateTaskDefinition(stack, 'Task');
    taskDefinition.addContainer('App', { image: testImage });
    const service = new ecs.FargateService(stack, 'Plain', { cluster, taskDefinition });
    b.connect(service);
    template(stack).hasResourceProperties('AWS::ECS::TaskDefinition', {
      ContainerDefinitions: [Match.objectLike({ Secrets: [Match.objectLike({ Name: 'REALTIME_BUS_AUTH' })] })],
    });
  });

  test('connects an EC2 service (any ECS service with a task definition)', () => {
    const { stack, vpc, bus: b } = bus();
    const cluster = new ecs.Cluster(stack, 'Cluster', { vpc });
    cluster.addCapacity('Capacity', { instanceType: new ec2.InstanceType('t4g.small'), machineImage: ecs.EcsOptimizedImage.amazonLinux2023(ecs.AmiHardwareType.ARM) });
    const taskDefinition = new ecs.Ec2TaskDefinition(stack, 'Task', { networkMode: ecs.NetworkMode.AWS_VPC });
    taskDefinition.addContainer('App', { image: testImage, memoryLimitMiB: 512 });
    const service = new ecs.Ec2Service(stack, 'OnEc2', { cluster, taskDefinition });
    b.connect(service);
    const t = template(stack);
    t.hasResourceProperties('AWS::ECS::TaskDefinition', {
      ContainerDefinitions: [Match.objectLike({ Secrets: [Match.objectLike({ Name: 'REALTIME_BUS_AUTH' })] })],
    });
    t.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      SourceSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('OnEc2SecurityGroup'), 'GroupId'] },
      FromPort: 6390,
    });
  });

  test('a service without a container is refused', () => {
    const { stack, vpc, bus: b } = bus();
    const cluster = new ecs.Cluster(stack, 'Cluster', { vpc });
    const taskDefinition = new ecs.FargateTaskDefinition(stack, 'Task');
    const service = new ecs.FargateService(stack, 'Empty', { cluster, taskDefinition });
    expect(() => b.connect(service)).toThrow('Test/Bus: connect(Test/Empty) found no container in its task definition; add the container before connecting');
  });
});

describe('RedisPubSubBus.connectFunction', () => {
  function fn(stack: Stack, vpc?: ec2.IVpc): lambda.Function {
    return new lambda.Function(stack, 'Fn', {
      runtime: lambda.Runtime.NODEJS_22_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('exports.handler = async () => {}'),
      vpc,
      timeout: Duration.seconds(5),
    });
  }

  test('opens the port, sets URL, cluster flag and secret ARN, and grants read', () => {
    const { stack, vpc, bus: b } = bus();
    b.connectFunction(fn(stack, vpc));
    const t = template(stack);
    t.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: {
          REALTIME_BUS_URL: Match.objectLike({ 'Fn::Join': Match.anyValue() }),
          REALTIME_BUS_CLUSTER: 'false',
          REALTIME_BUS_AUTH_SECRET_ARN: { Ref: Match.stringLikeRegexp('BusAuthToken') },
        },
      },
    });
    t.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      FromPort: 6390,
      SourceSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('FnSecurityGroup'), 'GroupId'] },
    });
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'] })]) },
    });
  });

  test('an alias sets the variables on its function, and the grant and rule go to the same role and group', () => {
    const { stack, vpc, bus: b } = bus();
    const alias = fn(stack, vpc).addAlias('live');
    b.connectFunction(alias);
    b.connectFunction(alias);
    const t = template(stack);
    t.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ REALTIME_BUS_CLUSTER: 'false', REALTIME_BUS_AUTH_SECRET_ARN: { Ref: Match.stringLikeRegexp('BusAuthToken') } }) },
    });
    t.resourceCountIs('AWS::EC2::SecurityGroupIngress', 1);
    t.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^FnServiceRole') }],
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'] })]) },
    });
  });

  test('a function outside the VPC is refused', () => {
    const { stack, bus: b } = bus();
    expect(() => b.connectFunction(fn(stack)))
      .toThrow("Test/Bus: connectFunction(Test/Fn) needs a function in the bus's VPC; set vpc (and vpcSubnets) on the function");
  });
});

describe('RedisPubSubBus rejects bad props', () => {
  test.each<[string, Partial<RedisPubSubBusProps>, string]>([
    ['too many replicas', { mode: BusMode.provisioned({ replicas: 6 }) },
      'Test/Bus: mode.replicas 6 is not a whole number from 0 to 5; use a value from 0 to 5'],
    ['negative replicas', { mode: BusMode.provisioned({ replicas: -1 }) },
      'Test/Bus: mode.replicas -1 is not a whole number from 0 to 5; use a value from 0 to 5'],
    ['a privileged port', { port: 80 },
      'Test/Bus: port 80 is not a whole number from 1024 to 65535; use a value from 1024 to 65535'],
    ['a port on a serverless cache', { mode: BusMode.serverless(), port: 6390 },
      'Test/Bus: port 6390 cannot be set on a serverless cache, which always listens on 6379; remove port or use BusMode.provisioned()'],
    ['no snapshots', { snapshotRetentionDays: 0 },
      'Test/Bus: snapshotRetentionDays 0 is not a whole number from 1 to 35; use a value from 1 to 35'],
    ['a tiny ECPU limit', { mode: BusMode.serverless({ maxEcpuPerSecond: 10 }) },
      'Test/Bus: mode.maxEcpuPerSecond 10 is not a whole number from 1000 to 15000000; use a value from 1000 to 15000000'],
    ['too much storage', { mode: BusMode.serverless({ maxDataStorage: Size.gibibytes(6000) }) },
      'Test/Bus: mode.maxDataStorage (GB) 6000 is not a whole number from 1 to 5000; use a value from 1 to 5000'],
  ])('%s', (_name, props, message) => {
    expect(() => bus(props)).toThrow(message);
  });

  test('a VPC with one Availability Zone cannot hold a Multi-AZ group', () => {
    const { stack } = stackWithVpc();
    const vpc = new ec2.Vpc(stack, 'Single', { maxAzs: 1 });
    expect(() => new RedisPubSubBus(stack, 'Bus', { vpc }))
      .toThrow("Test/Bus: vpc 'Test/Single' has one Availability Zone, so replicas cannot be spread for Multi-AZ failover; use a VPC with at least two Availability Zones");
  });

  test('BusEngine.of rejects unknown engines and versions', () => {
    expect(() => BusEngine.of('memcached', '1.6')).toThrow("BusEngine.of: engine 'memcached' is not supported; use 'valkey' or 'redis'");
    expect(() => BusEngine.of('valkey', '8')).toThrow("BusEngine.of: version '8' is not a major.minor version such as '8.0'");
  });
});

describe('RedisPubSubBus removal policies', () => {
  function logGroupResource(stack: Stack): any {
    const logicalId = stack.getLogicalId(stack.node.findChild('Bus').node.findChild('Logs').node.defaultChild as logs.CfnLogGroup);
    return template(stack).toJSON().Resources[logicalId];
  }

  test('by default the log group is retained on cdk destroy and the cache leaves a final snapshot', () => {
    const { stack } = bus();
    expect(logGroupResource(stack)).toEqual(expect.objectContaining({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' }));
    expect(onlyResource(template(stack), 'AWS::ElastiCache::ReplicationGroup').resource.DeletionPolicy).toBe('Snapshot');
  });

  test('logRemovalPolicy DESTROY deletes the log group with the stack', () => {
    const { stack } = bus({ logRemovalPolicy: RemovalPolicy.DESTROY });
    expect(logGroupResource(stack)).toEqual(expect.objectContaining({ DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' }));
  });

  test('removalPolicy DESTROY deletes a serverless cache; SNAPSHOT is refused there', () => {
    const { stack } = bus({ mode: BusMode.serverless(), removalPolicy: RemovalPolicy.DESTROY });
    expect(onlyResource(template(stack), 'AWS::ElastiCache::ServerlessCache').resource.DeletionPolicy).toBe('Delete');
    expect(() => bus({ mode: BusMode.serverless(), removalPolicy: RemovalPolicy.SNAPSHOT })).toThrow(
      "Test/Bus: removalPolicy 'RemovalPolicy.SNAPSHOT' does not apply to a serverless cache (CloudFormation supports the Snapshot deletion policy only on node-based caches); "
      + 'use RemovalPolicy.RETAIN (the default) or RemovalPolicy.DESTROY, or BusMode.provisioned()');
  });
});

describe('RedisPubSubBus.grantReadAuthToken', () => {
  test('grants read of the token, and decrypt through Secrets Manager with a customer managed key', () => {
    const { stack, vpc } = stackWithVpc();
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    const b: IRedisPubSubBus = new RedisPubSubBus(stack, 'Bus', { vpc, encryptionKey: key });
    const role = new iam.Role(stack, 'Reader', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') });
    const grant = b.grantReadAuthToken(role);
    expect(grant.success).toBe(true);
    const t = template(stack);
    t.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^Reader') }],
      PolicyDocument: {
        Statement: Match.arrayWith([{
          Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
          Effect: 'Allow',
          Resource: { Ref: Match.stringLikeRegexp('BusAuthToken') },
        }]),
      },
    });
    // In one stack, aws-cdk-lib lets the role decrypt through the key's policy, limited to Secrets Manager.
    t.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([Match.objectLike({
          Action: 'kms:Decrypt',
          Principal: { AWS: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Reader'), 'Arn'] } },
          Condition: { StringEquals: { 'kms:ViaService': Match.anyValue() } },
        })]),
      },
    });
  });
});

describe('RedisPubSubBus metrics', () => {
  const provisioned = bus();
  const serverless = bus({ mode: BusMode.serverless() });
  const methods = ['metricEngineCpuUtilization', 'metricCurrentConnections', 'metricBytesUsedForCache', 'metricPubSubCommands', 'metricNetworkBytesOut'] as const;

  test.each(methods)('%s has the 1-minute period its @default says, in both modes', method => {
    const p = provisioned.bus[method]() as cloudwatch.MathExpression;
    expect(p).toBeInstanceOf(cloudwatch.MathExpression);
    expect(p.period.toSeconds()).toBe(60);
    for (const node of Object.values(p.usingMetrics)) {
      expect((node as cloudwatch.Metric).period.toSeconds()).toBe(60);
    }
    const s = serverless.bus[method]();
    expect(s).toBeInstanceOf(cloudwatch.MathExpression);
    expect(s.expression).toBe('m1');
    expect(s.period.toSeconds()).toBe(60);
    expect((s.usingMetrics.m1 as cloudwatch.Metric).period.toSeconds()).toBe(60);
    expect(provisioned.bus[method]({ period: Duration.minutes(5) }).period.toSeconds()).toBe(300);
    expect(serverless.bus[method]({ period: Duration.minutes(5) }).period.toSeconds()).toBe(300);
  });

  test('statistics and aggregations match the TSDoc', () => {
    const b = provisioned.bus;
    const stat = (m: cloudwatch.IMetric) => (Object.values((m as cloudwatch.MathExpression).usingMetrics)[0] as cloudwatch.Metric).statistic;
    const expression = (m: cloudwatch.IMetric) => (m as cloudwatch.MathExpression).expression;
    expect([expression(b.metricEngineCpuUtilization()), stat(b.metricEngineCpuUtilization())]).toEqual(['MAX([node1, node2])', 'Average']);
    expect([expression(b.metricCurrentConnections()), stat(b.metricCurrentConnections())]).toEqual(['SUM([node1, node2])', 'Average']);
    expect([expression(b.metricBytesUsedForCache()), stat(b.metricBytesUsedForCache())]).toEqual(['MAX([node1, node2])', 'Average']);
    expect([expression(b.metricPubSubCommands()), stat(b.metricPubSubCommands())]).toEqual(['SUM([node1, node2])', 'Sum']);
    expect([expression(b.metricNetworkBytesOut()), stat(b.metricNetworkBytesOut())]).toEqual(['SUM([node1, node2])', 'Sum']);
    expect(stat(serverless.bus.metricEngineCpuUtilization())).toBe('Sum');
    expect(stat(serverless.bus.metricCurrentConnections())).toBe('Average');
  });

  test('metric(name, props) takes the aggregation, statistic, label and color in one options object', () => {
    const m = provisioned.bus.metric('CurrItems', { aggregation: NodeAggregation.MIN, statistic: 'Maximum', label: 'Items', color: '#ff0000' }) as cloudwatch.MathExpression;
    expect(m.expression).toBe('MIN([node1, node2])');
    expect(m.label).toBe('Items');
    expect(m.color).toBe('#ff0000');
    expect((m.usingMetrics.node1 as cloudwatch.Metric).statistic).toBe('Maximum');
    expect((m.usingMetrics.node1 as cloudwatch.Metric).label).toBeUndefined();
    expect((provisioned.bus.metric('CurrItems') as cloudwatch.MathExpression).label).toBe('CurrItems (MAX over 2 nodes)');
    const s = serverless.bus.metric('CurrItems', { aggregation: NodeAggregation.MIN, label: 'Items' });
    const inner = s.usingMetrics.m1 as cloudwatch.Metric;
    expect([inner.metricName, inner.statistic, s.label]).toEqual(['CurrItems', 'Average', 'Items']);
  });

  test.each([['provisioned', () => bus()], ['serverless', () => bus({ mode: BusMode.serverless() })]] as const)(
    'a %s bus\'s metrics synthesize alarms, through createAlarm or cloudwatch.Alarm', (_mode, make) => {
      const { stack, bus: b } = make();
      const cpu = b.metricEngineCpuUtilization();
      cpu.createAlarm(stack, 'CpuAlarm', { threshold: 80, evaluationPeriods: 3 });
      new cloudwatch.Alarm(stack, 'ConnectionsAlarm', { metric: b.metricCurrentConnections(), threshold: 10_000, evaluationPeriods: 1 });
      const alarms = Object.values(template(stack).findResources('AWS::CloudWatch::Alarm')).map((r: any) => r.Properties);
      expect(alarms).toHaveLength(2);
      const nodes = _mode === 'provisioned' ? 2 : 1;
      for (const alarm of alarms) {
        // A metric-math alarm: the expression returns data, each node's metric (or the cache's one) does not.
        expect(alarm.Metrics.filter((m: any) => m.ReturnData !== false)).toEqual([expect.objectContaining({ Expression: expect.stringMatching(/^(MAX\(|SUM\(|m1$)/) })]);
        expect(alarm.Metrics.filter((m: any) => m.MetricStat).map((m: any) => m.MetricStat.Period)).toEqual(new Array(nodes).fill(60));
      }
    });
});
