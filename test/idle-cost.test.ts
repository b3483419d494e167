import * as fs from 'fs';
import * as path from 'path';
import { App, CfnParameter, CfnResource, Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elasticache from 'aws-cdk-lib/aws-elasticache';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as opensearchserverless from 'aws-cdk-lib/aws-opensearchserverless';
import * as opensearch from 'aws-cdk-lib/aws-opensearchservice';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { exampleNames, EXAMPLES_DIR } from '../scripts/lib/examples';
import { CostLine, estimateIdleCost, IdleEstimate } from '../scripts/lib/idle-cost';
import { formatCostLines, parseExampleArgs } from '../scripts/lib/idle-cost-report';
import {
  CLOUDWATCH_ALARM, DYNAMODB_PROVISIONED, ELASTICACHE_NODE_HOUR, ELASTICACHE_SERVERLESS, FARGATE, INTERFACE_ENDPOINT_AZ_HOUR, KMS_KEY_MONTH,
  LOAD_BALANCER, NAT_GATEWAY_HOUR, OPENSEARCH_DOMAIN, OPENSEARCH_SERVERLESS, priceTable, PUBLIC_IPV4_HOUR, SECRET_MONTH, VALKEY_NODE_FACTOR, WAF,
} from '../scripts/lib/prices';

const HOURS = 730;
const money = (value: number) => Math.round(value * 100) / 100;

function templateOf(build: (stack: Stack) => void): any {
  const app = new App();
  const stack = new Stack(app, 'Priced', { env: { account: '123456789012', region: 'us-east-1' } });
  build(stack);
  return app.synth().getStackByName('Priced').template;
}

function linesOf(estimate: IdleEstimate, type: string): CostLine[] {
  return estimate.lines.filter(l => l.type === type);
}

function idOf(stack: Stack, construct: { node: { defaultChild?: unknown } } | CfnResource): string {
  const resource = construct instanceof CfnResource ? construct : construct.node.defaultChild as CfnResource;
  return stack.getLogicalId(resource);
}

describe('idle-cost estimator', () => {
  test('prices NAT gateways, their Elastic IPs and interface endpoints per subnet; gateway endpoints are free', () => {
    const template = templateOf(stack => {
      const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 3, natGateways: 2 });
      vpc.addInterfaceEndpoint('Ecr', { service: ec2.InterfaceVpcEndpointAwsService.ECR });
      vpc.addInterfaceEndpoint('Logs', { service: ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS, subnets: { availabilityZones: [vpc.availabilityZones[0]] } });
      vpc.addGatewayEndpoint('S3', { service: ec2.GatewayVpcEndpointAwsService.S3 });
    });
    const estimate = estimateIdleCost(template);

    const nat = linesOf(estimate, 'AWS::EC2::NatGateway');
    expect(nat).toHaveLength(2);
    expect(nat.every(l => l.monthly === money(NAT_GATEWAY_HOUR.usd * HOURS))).toBe(true);
    const eips = linesOf(estimate, 'AWS::EC2::EIP');
    expect(eips).toHaveLength(2);
    expect(eips[0].monthly).toBe(money(PUBLIC_IPV4_HOUR.usd * HOURS));

    const endpoints = linesOf(estimate, 'AWS::EC2::VPCEndpoint');
    const byItem = Object.fromEntries(endpoints.map(l => [l.item, l]));
    expect(byItem['interface endpoint ecr.api x subnets'].quantity).toBe(3);
    expect(byItem['interface endpoint ecr.api x subnets'].monthly).toBe(money(3 * INTERFACE_ENDPOINT_AZ_HOUR.usd * HOURS));
    expect(byItem['interface endpoint logs x subnets'].quantity).toBe(1);
    expect(byItem['gateway endpoint'].kind).toBe('free');
  });

  test('prices Fargate tasks by size, architecture and minimum count: auto scaling minimum, DesiredCount, scale to zero, public addresses', () => {
    let ids: Record<string, string> = {};
    const template = templateOf(stack => {
      const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 0 });
      const cluster = new ecs.Cluster(stack, 'Cluster', { vpc });
      const service = (id: string, cpu: number, memoryLimitMiB: number, arch: ecs.CpuArchitecture, props: Partial<ecs.FargateServiceProps>) => {
        const taskDefinition = new ecs.FargateTaskDefinition(stack, `${id}Task`, { cpu, memoryLimitMiB, runtimePlatform: { cpuArchitecture: arch } });
        taskDefinition.addContainer('App', { image: ecs.ContainerImage.fromRegistry('public.ecr.aws/docker/library/busybox:latest') });
        return new ecs.FargateService(stack, id, { cluster, taskDefinition, ...props });
      };
      const arm = service('Arm', 1024, 2048, ecs.CpuArchitecture.ARM64, { desiredCount: 5 });
      arm.autoScaleTaskCount({ minCapacity: 3, maxCapacity: 6 }).scaleOnCpuUtilization('Cpu', { targetUtilizationPercent: 60 });
      const x86 = service('X86', 512, 1024, ecs.CpuArchitecture.X86_64, {
        desiredCount: 2, assignPublicIp: true, vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      });
      const zero = service('Zero', 256, 512, ecs.CpuArchitecture.ARM64, {});
      zero.autoScaleTaskCount({ minCapacity: 0, maxCapacity: 2 });
      const single = service('Single', 256, 512, ecs.CpuArchitecture.X86_64, {});
      ids = { arm: idOf(stack, arm), x86: idOf(stack, x86), zero: idOf(stack, zero), single: idOf(stack, single) };
    });
    const estimate = estimateIdleCost(template);
    const of = (id: string) => estimate.lines.filter(l => l.logicalId === id);

    const [armCpu, armMemory] = of(ids.arm);
    expect(armCpu.quantity).toBe(3); // MinCapacity wins over DesiredCount 5
    expect(armCpu.monthly).toBe(money(3 * 1 * FARGATE.arm.vcpuHour.usd * HOURS));
    expect(armMemory.quantity).toBe(6);
    expect(armMemory.monthly).toBe(money(6 * FARGATE.arm.gbHour.usd * HOURS));

    const x86 = of(ids.x86);
    expect(x86.map(l => l.quantity)).toEqual([1, 2, 2]); // 2 x 0.5 vCPU, 2 x 1 GB, 2 public addresses
    expect(x86[0].monthly).toBe(money(1 * FARGATE.x86.vcpuHour.usd * HOURS));
    expect(x86[2].item).toMatch(/AssignPublicIp ENABLED/);
    expect(x86[2].monthly).toBe(money(2 * PUBLIC_IPV4_HOUR.usd * HOURS));

    expect(of(ids.zero).map(l => l.monthly)).toEqual([0, 0]);
    expect(of(ids.zero)[0].note).toBe('scales to zero');
    // No DesiredCount and no scaling: CloudFormation starts one task.
    expect(of(ids.single)[0].quantity).toBe(0.25);
  });

  test('prices load balancers, with one public address per subnet when internet-facing; subnets behind a parameter are unpriced, not 0', () => {
    let ids: Record<string, string> = {};
    const template = templateOf(stack => {
      const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 3, natGateways: 0 });
      const publicAlb = new elbv2.ApplicationLoadBalancer(stack, 'Public', { vpc, internetFacing: true });
      const internal = new elbv2.ApplicationLoadBalancer(stack, 'Internal', { vpc, internetFacing: false, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED } });
      const nlb = new elbv2.NetworkLoadBalancer(stack, 'Nlb', { vpc, internetFacing: true, vpcSubnets: { availabilityZones: vpc.availabilityZones.slice(0, 2), subnetType: ec2.SubnetType.PUBLIC } });
      const subnets = new CfnParameter(stack, 'Subnets', { type: 'List<AWS::EC2::Subnet::Id>' });
      const imported = new elbv2.CfnLoadBalancer(stack, 'Imported', { type: 'application', subnets: subnets.valueAsList });
      ids = { publicAlb: idOf(stack, publicAlb), internal: idOf(stack, internal), nlb: idOf(stack, nlb), imported: idOf(stack, imported) };
    });
    const estimate = estimateIdleCost(template);
    const of = (id: string) => estimate.lines.filter(l => l.logicalId === id);

    expect(of(ids.publicAlb).map(l => [l.quantity, l.monthly])).toEqual([
      [1, money(LOAD_BALANCER.albHour.usd * HOURS)],
      [3, money(3 * PUBLIC_IPV4_HOUR.usd * HOURS)],
    ]);
    expect(of(ids.internal)).toHaveLength(1);
    expect(of(ids.nlb).map(l => l.item)).toEqual(['Network Load Balancer', expect.stringMatching(/public IPv4/)]);
    expect(of(ids.nlb)[1].quantity).toBe(2);
    const imported = of(ids.imported);
    expect(imported[1].kind).toBe('unpriced');
    expect(imported[1].note).toMatch(/cannot count subnets/);
    expect(estimate.unpriced).toContainEqual(imported[1]);
  });

  test('prices ElastiCache nodes by type and count, Valkey nodes derived, serverless caches at their metered minimum, unknown node types unpriced', () => {
    const template = templateOf(stack => {
      new elasticache.CfnReplicationGroup(stack, 'Pair', {
        replicationGroupDescription: 'pair', engine: 'redis', cacheNodeType: 'cache.t4g.small', numCacheClusters: 3,
      });
      new elasticache.CfnReplicationGroup(stack, 'Sharded', {
        replicationGroupDescription: 'sharded', engine: 'valkey', cacheNodeType: 'cache.t4g.small', numNodeGroups: 2, replicasPerNodeGroup: 1,
      });
      new elasticache.CfnReplicationGroup(stack, 'Big', { replicationGroupDescription: 'big', cacheNodeType: 'cache.r7g.large', numCacheClusters: 2 });
      new elasticache.CfnServerlessCache(stack, 'ValkeyServerless', { engine: 'valkey', serverlessCacheName: 'v' });
      new elasticache.CfnServerlessCache(stack, 'RedisServerless', { engine: 'redis', serverlessCacheName: 'r' });
    });
    const estimate = estimateIdleCost(template);
    const byId = (prefix: string) => estimate.lines.find(l => l.logicalId.startsWith(prefix))!;
    const small = ELASTICACHE_NODE_HOUR['cache.t4g.small'].usd;

    expect([byId('Pair').quantity, byId('Pair').monthly]).toEqual([3, money(3 * small * HOURS)]);
    expect([byId('Sharded').quantity, byId('Sharded').monthly]).toEqual([4, money(4 * small * VALKEY_NODE_FACTOR.usd * HOURS)]);
    expect(byId('Big').kind).toBe('unpriced');
    expect(byId('Big').note).toMatch(/cache\.r7g\.large/);
    expect([byId('ValkeyServerless').quantity, byId('ValkeyServerless').monthly]).toEqual([0.1, money(0.1 * ELASTICACHE_SERVERLESS.valkey.gbHour.usd * HOURS)]);
    expect([byId('RedisServerless').quantity, byId('RedisServerless').monthly]).toEqual([1, money(ELASTICACHE_SERVERLESS.redis.gbHour.usd * HOURS)]);
  });

  test('prices OpenSearch Serverless minimum OCUs by standby replicas, once per shared group', () => {
    const template = templateOf(stack => {
      new opensearchserverless.CfnCollection(stack, 'Standby', { name: 'standby', type: 'SEARCH' });
      new opensearchserverless.CfnCollection(stack, 'NoStandby', { name: 'nostandby', type: 'SEARCH', standbyReplicas: 'DISABLED' });
      new opensearchserverless.CfnCollection(stack, 'Second', { name: 'second', type: 'SEARCH', standbyReplicas: 'ENABLED' });
    });
    const estimate = estimateIdleCost(template);
    const byId = (prefix: string) => estimate.lines.find(l => l.logicalId.startsWith(prefix))!;
    expect([byId('Standby').quantity, byId('Standby').monthly]).toEqual([2, money(2 * OPENSEARCH_SERVERLESS.ocuHour.usd * HOURS)]);
    expect([byId('NoStandby').quantity, byId('NoStandby').monthly]).toEqual([1, money(OPENSEARCH_SERVERLESS.ocuHour.usd * HOURS)]);
    expect(byId('Second').monthly).toBe(0);
    expect(byId('Second').note).toMatch(/shares the minimum OCUs of Standby/);
  });

  test('prices WAF web ACLs and rules, secrets, customer-managed keys and alarms by metric; RDS and unknown types are listed as unpriced', () => {
    const template = templateOf(stack => {
      new wafv2.CfnWebACL(stack, 'Acl', {
        defaultAction: { allow: {} },
        scope: 'REGIONAL',
        visibilityConfig: { cloudWatchMetricsEnabled: false, metricName: 'acl', sampledRequestsEnabled: false },
        rules: ['A', 'B', 'C'].map((name, priority) => ({
          name,
          priority,
          overrideAction: { none: {} },
          statement: { managedRuleGroupStatement: { vendorName: 'AWS', name: 'AWSManagedRulesCommonRuleSet' } },
          visibilityConfig: { cloudWatchMetricsEnabled: false, metricName: name, sampledRequestsEnabled: false },
        })),
      });
      new secretsmanager.Secret(stack, 'One');
      new secretsmanager.Secret(stack, 'Two');
      new kms.Key(stack, 'KeyA', { alias: 'alias/a' });
      new kms.Key(stack, 'KeyB');
      const metric = (name: string, period = Duration.minutes(1)) => new cloudwatch.Metric({ namespace: 'Test', metricName: name, period });
      metric('Standard').createAlarm(stack, 'Standard', { threshold: 1, evaluationPeriods: 1 });
      metric('Fast', Duration.seconds(10)).createAlarm(stack, 'Fast', { threshold: 1, evaluationPeriods: 1 });
      new cloudwatch.MathExpression({ expression: 'a + b + c', usingMetrics: { a: metric('A'), b: metric('B'), c: metric('C') } })
        .createAlarm(stack, 'Math', { threshold: 1, evaluationPeriods: 1 });
      new rds.CfnDBInstance(stack, 'Database', { dbInstanceClass: 'db.t4g.micro', engine: 'postgres', allocatedStorage: '20' });
      new CfnResource(stack, 'Mystery', { type: 'AWS::Mystery::Thing' });
    });
    const estimate = estimateIdleCost(template);

    const acl = linesOf(estimate, 'AWS::WAFv2::WebACL');
    expect(acl.map(l => [l.quantity, l.monthly])).toEqual([[1, WAF.webAclMonth.usd], [3, 3 * WAF.ruleMonth.usd]]);
    expect(linesOf(estimate, 'AWS::SecretsManager::Secret').map(l => l.monthly)).toEqual([SECRET_MONTH.usd, SECRET_MONTH.usd]);
    expect(linesOf(estimate, 'AWS::KMS::Key').map(l => l.monthly)).toEqual([KMS_KEY_MONTH.usd, KMS_KEY_MONTH.usd]);
    expect(linesOf(estimate, 'AWS::KMS::Alias').map(l => l.kind)).toEqual(['free']);

    const alarms = Object.fromEntries(linesOf(estimate, 'AWS::CloudWatch::Alarm').map(l => [l.logicalId.replace(/[0-9A-F]{8}$/, ''), l]));
    expect([alarms.Standard.quantity, alarms.Standard.monthly]).toEqual([1, CLOUDWATCH_ALARM.standardMetricMonth.usd]);
    expect([alarms.Fast.quantity, alarms.Fast.monthly]).toEqual([1, CLOUDWATCH_ALARM.highResolutionMetricMonth.usd]);
    expect([alarms.Math.quantity, alarms.Math.monthly]).toEqual([3, money(3 * CLOUDWATCH_ALARM.standardMetricMonth.usd)]);

    expect(estimate.unpriced.map(l => l.type).sort()).toEqual(['AWS::Mystery::Thing', 'AWS::RDS::DBInstance']);
    expect(estimate.unknownTypes).toEqual(['AWS::Mystery::Thing']);
    expect(estimate.total).toBe(money(estimate.lines.reduce((sum, l) => sum + l.monthly, 0)));
    expect(estimate.total).toBe(money(WAF.webAclMonth.usd + 3 * WAF.ruleMonth.usd + 2 * SECRET_MONTH.usd + 2 * KMS_KEY_MONTH.usd
      + CLOUDWATCH_ALARM.standardMetricMonth.usd + CLOUDWATCH_ALARM.highResolutionMetricMonth.usd + 3 * CLOUDWATCH_ALARM.standardMetricMonth.usd));
  });

  test('a collection with its own KMS key pays its own minimum; an OpenSearch Serverless VPC endpoint is priced per subnet', () => {
    const template = templateOf(stack => {
      const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 3, natGateways: 0, subnetConfiguration: [{ name: 'Isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
      new opensearchserverless.CfnSecurityPolicy(stack, 'Keyed', {
        name: 'keyed',
        type: 'encryption',
        policy: JSON.stringify({ Rules: [{ ResourceType: 'collection', Resource: ['collection/own'] }], KmsARN: 'arn:aws:kms:us-east-1:123456789012:key/abc' }),
      });
      new opensearchserverless.CfnCollection(stack, 'Shared', { name: 'shared', type: 'SEARCH' });
      new opensearchserverless.CfnCollection(stack, 'Own', { name: 'own', type: 'SEARCH' });
      new opensearchserverless.CfnVpcEndpoint(stack, 'Endpoint', { name: 'ep', vpcId: vpc.vpcId, subnetIds: vpc.isolatedSubnets.map(s => s.subnetId) });
    });
    const estimate = estimateIdleCost(template);
    const byId = (prefix: string) => estimate.lines.find(l => l.logicalId.startsWith(prefix))!;
    expect(byId('Shared').quantity).toBe(2);
    expect(byId('Own').quantity).toBe(2);
    expect([byId('Endpoint').quantity, byId('Endpoint').monthly]).toEqual([3, money(3 * INTERFACE_ENDPOINT_AZ_HOUR.usd * HOURS)]);
  });

  test('prices OpenSearch domains by instance and storage, provisioned tables by capacity and cache clusters by node; EC2-backed services are unpriced', () => {
    const template = templateOf(stack => {
      new opensearch.CfnDomain(stack, 'Small', {
        clusterConfig: { instanceType: 't3.small.search', instanceCount: 2 }, ebsOptions: { ebsEnabled: true, volumeSize: 10, volumeType: 'gp3' },
      });
      new opensearch.CfnDomain(stack, 'Large', { clusterConfig: { instanceType: 'r6g.large.search', instanceCount: 1 } });
      new dynamodb.CfnTable(stack, 'Provisioned', {
        keySchema: [{ attributeName: 'id', keyType: 'HASH' }],
        attributeDefinitions: [{ attributeName: 'id', attributeType: 'S' }],
        provisionedThroughput: { readCapacityUnits: 10, writeCapacityUnits: 5 },
      });
      new elasticache.CfnCacheCluster(stack, 'Memcached', { engine: 'memcached', cacheNodeType: 'cache.t3.micro', numCacheNodes: 3 });
      const taskDefinition = new ecs.Ec2TaskDefinition(stack, 'Ec2Task');
      taskDefinition.addContainer('App', { image: ecs.ContainerImage.fromRegistry('public.ecr.aws/docker/library/busybox:latest'), memoryLimitMiB: 256 });
      new ecs.CfnService(stack, 'OnEc2', { launchType: 'EC2', taskDefinition: taskDefinition.taskDefinitionArn, desiredCount: 2 });
    });
    const estimate = estimateIdleCost(template);
    const of = (prefix: string) => estimate.lines.filter(l => l.logicalId.startsWith(prefix));

    expect(of('Small').map(l => [l.quantity, l.monthly])).toEqual([
      [2, money(2 * OPENSEARCH_DOMAIN.instanceHour['t3.small.search'].usd * HOURS)],
      [20, money(20 * OPENSEARCH_DOMAIN.gp3GbMonth.usd)],
    ]);
    expect(of('Large')[0].kind).toBe('unpriced');
    expect(of('Provisioned').map(l => [l.quantity, l.monthly])).toEqual([
      [5, money(5 * DYNAMODB_PROVISIONED.wcuHour.usd * HOURS)],
      [10, money(10 * DYNAMODB_PROVISIONED.rcuHour.usd * HOURS)],
    ]);
    expect(of('Memcached').map(l => [l.quantity, l.monthly])).toEqual([[3, money(3 * ELASTICACHE_NODE_HOUR['cache.t3.micro'].usd * HOURS)]]);
    expect(of('OnEc2').map(l => l.kind)).toEqual(['unpriced']);
  });

  test('prices a task count given for load instead of the idle minimum', () => {
    let id = '';
    const template = templateOf(stack => {
      const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 0 });
      const taskDefinition = new ecs.FargateTaskDefinition(stack, 'Task', { cpu: 512, memoryLimitMiB: 1024 });
      taskDefinition.addContainer('App', { image: ecs.ContainerImage.fromRegistry('public.ecr.aws/docker/library/busybox:latest') });
      const service = new ecs.FargateService(stack, 'Service', { cluster: new ecs.Cluster(stack, 'Cluster', { vpc }), taskDefinition });
      service.autoScaleTaskCount({ minCapacity: 1, maxCapacity: 10 });
      id = idOf(stack, service);
    });
    const idle = estimateIdleCost(template);
    const loaded = estimateIdleCost(template, { taskCounts: { [id]: 7 } });
    const cpu = (e: IdleEstimate) => e.lines.find(l => l.logicalId === id)!;
    expect(cpu(idle).quantity).toBe(0.5);
    expect(cpu(loaded).quantity).toBe(3.5);
    expect(loaded.total - idle.total).toBeCloseTo(6 * (0.5 * FARGATE.x86.vcpuHour.usd + 1 * FARGATE.x86.gbHour.usd) * HOURS, 1);
  });
});

describe.each(exampleNames())('examples/%s idle cost', example => {
  let templates: Array<{ stackName: string; template: any }>;
  beforeAll(() => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { createStacks } = require(path.join(EXAMPLES_DIR, example, 'app')) as { createStacks(app: App): Stack[] };
    const app = new App();
    const stacks = createStacks(app);
    const assembly = app.synth();
    templates = stacks.map(s => ({ stackName: s.stackName, template: assembly.getStackByName(s.stackName).template }));
  });

  test('README states the default profile\'s current estimate', () => {
    const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
    const section = readme.split('## What an example costs when nobody uses it')[1].split('\n## ')[0];
    const rows = section.split('\n').filter(l => l.startsWith('|')).map(l => l.split('|').slice(1, -1).map(c => c.trim()));
    const column = rows[0].indexOf(example);
    expect(column).toBeGreaterThan(0);
    const stated = rows.find(r => r[0] === '**default profile**')![column].replace(/\*/g, '');
    const total = templates.reduce((sum, t) => sum + estimateIdleCost(t.template).total, 0);
    expect(stated).toBe(total.toFixed(2));
  });

  test('every resource is priced, usage-priced, known free or listed as unpriced; no type is unknown', () => {
    for (const { stackName, template } of templates) {
      const estimate = estimateIdleCost(template);
      const covered = new Set(estimate.lines.map(l => l.logicalId));
      expect(Object.keys(template.Resources).filter(id => !covered.has(id)).map(id => `${stackName}/${id}`)).toEqual([]);
      expect(estimate.unknownTypes.map(type => `${stackName}: ${type}`)).toEqual([]);
      for (const l of estimate.lines.filter(line => line.kind !== 'priced')) {
        expect(l.monthly).toBe(0);
      }
      expect(estimate.unpriced).toEqual(estimate.lines.filter(l => l.kind === 'unpriced'));
      expect(estimate.total).toBe(money(estimate.lines.reduce((sum, l) => sum + l.monthly, 0)));
      expect(estimate.total).toBeGreaterThan(0);
    }
  });
});

describe('npm run examples arguments and cost lines', () => {
  test('names, --cost and -c key=value are read; a bad option or pair is a clear error', () => {
    expect(parseExampleArgs(['canvas', '--cost', '-c', 'profile=lean', 'chat'])).toEqual({ names: ['canvas', 'chat'], showCost: true, context: { profile: 'lean' } });
    expect(parseExampleArgs([])).toEqual({ names: [], showCost: false, context: {} });
    expect(() => parseExampleArgs(['-c', 'lean'])).toThrow(/-c needs key=value, got "lean"/);
    expect(() => parseExampleArgs(['--costs'])).toThrow(/Unknown option --costs/);
  });

  test('the cost table lists priced, usage-priced and unpriced lines and leaves free resources out', () => {
    const estimate = estimateIdleCost(templateOf(stack => {
      new secretsmanager.Secret(stack, 'Secret');
      new kms.Key(stack, 'Key', { alias: 'alias/k' });
      new rds.CfnDBInstance(stack, 'Database', { dbInstanceClass: 'db.t4g.micro', engine: 'postgres', allocatedStorage: '20' });
    }));
    const table = formatCostLines(estimate);
    expect(table).toMatch(/Secret\w*\s+priced\s+secret\s+1\s+secret\s+0\.4/);
    expect(table).toMatch(/Database\s+unpriced\s+instance-hours and storage/);
    expect(table).not.toMatch(/KeyAlias/);
  });
});

describe('price table', () => {
  test('every price names its source and date, and a price without a source says what was assumed', () => {
    const rows = priceTable();
    expect(rows.length).toBeGreaterThan(30);
    for (const { name, price } of rows) {
      expect({ name, source: price.source.length > 0, date: /^(\d{4}(-\d{2}){0,2}|undated)$/.test(price.date), usd: price.usd > 0 })
        .toEqual({ name, source: true, date: true, usd: true });
      if (/none found/.test(price.source)) {
        expect({ name, assumption: price.assumption }).toEqual({ name, assumption: expect.stringMatching(/assumed/) });
      }
    }
    expect(rows.map(r => r.name)).toEqual(expect.arrayContaining([
      'FARGATE.arm.vcpuHour', 'API_GATEWAY_WEBSOCKET.messagesOverBillion', 'APPSYNC_EVENTS.connectionMinutes', 'ELASTICACHE_NODE_HOUR.cache.t4g.small',
    ]));
  });
});
