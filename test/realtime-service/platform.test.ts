import { App, CfnParameter, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { nagFindings } from '../../examples/shared/nag';
import { RealtimeFargateService, RealtimeFargateServiceProps } from '../../src';
import { acknowledgedControls, controlFindings } from '../support/controls';
import { onlyResource, stackWithVpc, synthError, template, testImage, testStack } from '../support/stacks';

function service(overrides: Partial<RealtimeFargateServiceProps> = {}): { stack: Stack; svc: RealtimeFargateService; vpc: ec2.Vpc } {
  const { stack, vpc } = stackWithVpc();
  const svc = new RealtimeFargateService(stack, 'Service', { vpc, image: testImage, insecureHttp: true, ...overrides });
  return { stack, svc, vpc };
}

function logicalId(stack: Stack, construct: { node: { defaultChild?: unknown } }): string {
  return stack.getLogicalId(construct.node.defaultChild as any);
}

function envOf(t: Template): Record<string, any> {
  const { props } = onlyResource(t, 'AWS::ECS::TaskDefinition');
  return Object.fromEntries(props.ContainerDefinitions[0].Environment.map((e: any) => [e.Name, e.Value]));
}

/** Deletion and update-replace policies of the resource at `path` (its CloudFormation resource). */
function policiesOf(stack: Stack, path: string): { DeletionPolicy?: string; UpdateReplacePolicy?: string } {
  const resource = stack.node.findAll().find(c => c.node.path === path);
  if (!resource) {
    throw new Error(`no construct at ${path}`);
  }
  const entry = template(stack).toJSON().Resources[stack.getLogicalId(resource as any)];
  return { DeletionPolicy: entry.DeletionPolicy, UpdateReplacePolicy: entry.UpdateReplacePolicy };
}

describe('RealtimeFargateService grants and roles', () => {
  test('is grantable through its task role: a table grant lands on the task role\'s policy', () => {
    const { stack, svc } = service();
    const table = new dynamodb.Table(stack, 'Table', { partitionKey: { name: 'id', type: dynamodb.AttributeType.STRING } });
    table.grantReadData(svc);
    expect(svc.grantPrincipal).toBe(svc.taskDefinition.taskRole);
    const t = template(stack);
    t.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: logicalId(stack, svc.taskDefinition.taskRole) }],
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({
          Action: Match.arrayWith(['dynamodb:Query', 'dynamodb:GetItem']),
          Resource: Match.arrayWith([{ 'Fn::GetAtt': [logicalId(stack, table), 'Arn'] }]),
        })]),
      },
    });
    // Nothing reaches the execution role, which only starts the tasks.
    const executionRole = svc.taskDefinition.executionRole!;
    for (const policy of Object.values(t.findResources('AWS::IAM::Policy'))) {
      if (JSON.stringify(policy.Properties.Roles).includes(logicalId(stack, executionRole))) {
        expect(JSON.stringify(policy.Properties.PolicyDocument)).not.toContain('dynamodb');
      }
    }
  });

  test('uses the given task and execution roles and creates none', () => {
    const { stack, vpc } = stackWithVpc();
    const taskRole = new iam.Role(stack, 'AppRole', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') });
    const executionRole = iam.Role.fromRoleArn(stack, 'StartRole', 'arn:aws:iam::123456789012:role/ecs-start', { mutable: false });
    const svc = new RealtimeFargateService(stack, 'Service', { vpc, image: testImage, insecureHttp: true, taskRole, executionRole });
    new s3.Bucket(stack, 'Data').grantRead(svc);
    expect(svc.grantPrincipal).toBe(taskRole);
    const t = template(stack);
    t.hasResourceProperties('AWS::ECS::TaskDefinition', {
      TaskRoleArn: { 'Fn::GetAtt': [logicalId(stack, taskRole), 'Arn'] },
      ExecutionRoleArn: 'arn:aws:iam::123456789012:role/ecs-start',
    });
    expect(stack.node.findAll().filter(c => c instanceof iam.CfnRole && c.node.path.startsWith('Test/Service/'))).toEqual([]);
    t.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: logicalId(stack, taskRole) }],
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: Match.arrayWith(['s3:GetObject*']) })]) },
    });
  });
});

describe('RealtimeFargateService removal policies', () => {
  test('by default retains the container logs, the flow logs and the access-log bucket', () => {
    const stack = testStack();
    new RealtimeFargateService(stack, 'Service', { image: testImage, insecureHttp: true });
    for (const path of ['Test/Service/Logs/Resource', 'Test/Service/FlowLogs/Resource', 'Test/Service/AccessLogs/Resource']) {
      expect([path, policiesOf(stack, path)]).toEqual([path, { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' }]);
    }
  });

  test('logRemovalPolicy applies to the container and the flow log groups', () => {
    const stack = testStack();
    new RealtimeFargateService(stack, 'Service', { image: testImage, insecureHttp: true, logRemovalPolicy: RemovalPolicy.DESTROY });
    expect(policiesOf(stack, 'Test/Service/Logs/Resource')).toEqual({ DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
    expect(policiesOf(stack, 'Test/Service/FlowLogs/Resource')).toEqual({ DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
    expect(policiesOf(stack, 'Test/Service/AccessLogs/Resource')).toEqual({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });

  test('accessLogsRemovalPolicy applies to the access-log bucket only', () => {
    const { stack } = service({ accessLogsRemovalPolicy: RemovalPolicy.DESTROY });
    expect(policiesOf(stack, 'Test/Service/AccessLogs/Resource')).toEqual({ DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
    expect(policiesOf(stack, 'Test/Service/Logs/Resource')).toEqual({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    // No custom resource empties the bucket: CloudFormation deletes it only when it is empty, as the prop says.
    template(stack).resourceCountIs('Custom::S3AutoDeleteObjects', 0);
  });

  test('SNAPSHOT, which log groups and buckets do not support, fails synthesis', () => {
    expect(() => service({ logRemovalPolicy: RemovalPolicy.SNAPSHOT })).toThrow(
      "Test/Service: logRemovalPolicy 'snapshot' is not supported by log groups or buckets, which have no snapshots; use RETAIN, RETAIN_ON_UPDATE_OR_DELETE or DESTROY");
    expect(() => service({ accessLogsRemovalPolicy: RemovalPolicy.SNAPSHOT })).toThrow(/^Test\/Service: accessLogsRemovalPolicy 'snapshot' is not supported/);
  });
});

describe('RealtimeFargateService options from aws-ecs-patterns', () => {
  test('securityGroups replace the tasks\' security group and admit the load balancer', () => {
    const { stack, vpc } = stackWithVpc();
    const group = new ec2.SecurityGroup(stack, 'Tasks', { vpc });
    const svc = new RealtimeFargateService(stack, 'Service', { vpc, image: testImage, insecureHttp: true, securityGroups: [group] });
    const t = template(stack);
    expect(svc.connections.securityGroups).toEqual([group]);
    t.hasResourceProperties('AWS::ECS::Service', {
      NetworkConfiguration: { AwsvpcConfiguration: Match.objectLike({ SecurityGroups: [{ 'Fn::GetAtt': [logicalId(stack, group), 'GroupId'] }] }) },
    });
    t.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      GroupId: { 'Fn::GetAtt': [logicalId(stack, group), 'GroupId'] },
      FromPort: 8080,
      SourceSecurityGroupId: { 'Fn::GetAtt': [logicalId(stack, svc.loadBalancerSecurityGroup), 'GroupId'] },
    });
    expect(stack.node.tryFindChild('Service')?.node.tryFindChild('Service')?.node.tryFindChild('SecurityGroup')).toBeUndefined();
  });

  test('ECS Exec is off by default', () => {
    const t = template(service().stack);
    expect(onlyResource(t, 'AWS::ECS::Service').props.EnableExecuteCommand).toBe(false);
  });

  test('enableExecuteCommand turns on ECS Exec, lets the task role open its channels and acknowledges only that wildcard', () => {
    const { stack, svc } = service({ enableExecuteCommand: true, readonlyRootFilesystem: false });
    const t = template(stack);
    t.hasResourceProperties('AWS::ECS::Service', { EnableExecuteCommand: true });
    t.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: logicalId(stack, svc.taskDefinition.taskRole) }],
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: Match.arrayWith(['ssmmessages:CreateControlChannel']), Resource: '*' })]) },
    });
    expect(nagFindings(stack)).toEqual([]);
  });

  test('enableExecuteCommand with a given task role leaves the wildcard to the role\'s owner', () => {
    const { stack, vpc } = stackWithVpc();
    const taskRole = new iam.Role(stack, 'AppRole', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') });
    new RealtimeFargateService(stack, 'Service', { vpc, image: testImage, insecureHttp: true, taskRole, enableExecuteCommand: true, readonlyRootFilesystem: false });
    expect(nagFindings(stack).map(f => [f.rule, f.resources])).toEqual([['AwsSolutions-IAM5[Resource::*]', ['Test/AppRole/DefaultPolicy/Resource']]]);
  });

  test('capacityProviderStrategies run the service on FARGATE_SPOT and give a created cluster the Fargate providers', () => {
    const stack = testStack();
    new RealtimeFargateService(stack, 'Service', {
      image: testImage,
      insecureHttp: true,
      capacityProviderStrategies: [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }],
    });
    const t = template(stack);
    const { props } = onlyResource(t, 'AWS::ECS::Service');
    expect(props.CapacityProviderStrategy).toEqual([{ CapacityProvider: 'FARGATE_SPOT', Weight: 1 }]);
    expect(props.LaunchType).toBeUndefined();
    t.hasResourceProperties('AWS::ECS::ClusterCapacityProviderAssociations', { CapacityProviders: ['FARGATE', 'FARGATE_SPOT'] });
  });

  test('without strategies the service uses the FARGATE launch type and the cluster has no providers', () => {
    const stack = testStack();
    new RealtimeFargateService(stack, 'Service', { image: testImage, insecureHttp: true });
    const t = template(stack);
    expect(onlyResource(t, 'AWS::ECS::Service').props.LaunchType).toBe('FARGATE');
    t.resourceCountIs('AWS::ECS::ClusterCapacityProviderAssociations', 0);
  });

  test('a given cluster must have every provider the strategies name', () => {
    const { stack, vpc } = stackWithVpc();
    const cluster = new ecs.Cluster(stack, 'Cluster', { vpc });
    new RealtimeFargateService(stack, 'Service', {
      cluster, image: testImage, insecureHttp: true, capacityProviderStrategies: [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }],
    });
    expect(synthError(stack)).toContain("Test/Service: capacityProviderStrategies names 'FARGATE_SPOT', which cluster Test/Cluster does not have; "
      + 'create the cluster with enableFargateCapacityProviders: true (or call cluster.enableFargateCapacityProviders())');
  });

  test('a given cluster with the Fargate providers, even enabled after the service, passes', () => {
    const { stack, vpc } = stackWithVpc();
    const cluster = new ecs.Cluster(stack, 'Cluster', { vpc });
    new RealtimeFargateService(stack, 'Service', {
      cluster, image: testImage, insecureHttp: true, capacityProviderStrategies: [{ capacityProvider: 'FARGATE_SPOT', weight: 2 }, { capacityProvider: 'FARGATE', base: 1, weight: 1 }],
    });
    cluster.enableFargateCapacityProviders();
    expect(onlyResource(template(stack), 'AWS::ECS::Service').props.CapacityProviderStrategy).toEqual([
      { CapacityProvider: 'FARGATE_SPOT', Weight: 2 },
      { CapacityProvider: 'FARGATE', Base: 1, Weight: 1 },
    ]);
  });

  test('healthCheckGracePeriod defaults to 60 s and can be changed', () => {
    expect(onlyResource(template(service().stack), 'AWS::ECS::Service').props.HealthCheckGracePeriodSeconds).toBe(60);
    expect(onlyResource(template(service({ healthCheckGracePeriod: Duration.minutes(3) }).stack), 'AWS::ECS::Service').props.HealthCheckGracePeriodSeconds).toBe(180);
  });

  test('sslPolicy sets the HTTPS listener\'s policy', () => {
    const { stack, vpc } = stackWithVpc();
    const certificate = acm.Certificate.fromCertificateArn(stack, 'Cert', 'arn:aws:acm:eu-west-1:123456789012:certificate/abc');
    new RealtimeFargateService(stack, 'Service', { vpc, image: testImage, certificate, sslPolicy: elbv2.SslPolicy.TLS13_13 });
    template(stack).hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 443, SslPolicy: 'ELBSecurityPolicy-TLS13-1-3-2021-06' });
  });

  test('domainName and domainZone alias the load balancer with an A record', () => {
    const { stack, vpc } = stackWithVpc();
    const zone = route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: 'Z123', zoneName: 'example.com' });
    const certificate = acm.Certificate.fromCertificateArn(stack, 'Cert', 'arn:aws:acm:eu-west-1:123456789012:certificate/abc');
    const svc = new RealtimeFargateService(stack, 'Service', { vpc, image: testImage, certificate, domainName: 'ws.example.com', domainZone: zone });
    expect(svc.domainRecord).toBeDefined();
    const lb = logicalId(stack, svc.loadBalancer);
    template(stack).hasResourceProperties('AWS::Route53::RecordSet', {
      Name: 'ws.example.com.',
      Type: 'A',
      HostedZoneId: 'Z123',
      AliasTarget: {
        DNSName: { 'Fn::Join': ['', ['dualstack.', { 'Fn::GetAtt': [lb, 'DNSName'] }]] },
        HostedZoneId: { 'Fn::GetAtt': [lb, 'CanonicalHostedZoneID'] },
      },
    });
  });

  test('no DNS record without domainName', () => {
    const { stack, svc } = service();
    expect(svc.domainRecord).toBeUndefined();
    template(stack).resourceCountIs('AWS::Route53::RecordSet', 0);
  });
});

describe('RealtimeFargateService with every platform option', () => {
  test('adds no cdk-nag finding, and only the writable root ECS Exec needs is a Control Tower finding, left for the user to accept', () => {
    const stack = testStack();
    const zone = route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: 'Z123', zoneName: 'example.com' });
    const certificate = acm.Certificate.fromCertificateArn(stack, 'Cert', 'arn:aws:acm:eu-west-1:123456789012:certificate/abc');
    new RealtimeFargateService(stack, 'Service', {
      image: testImage,
      certificate,
      sslPolicy: elbv2.SslPolicy.TLS13_13,
      domainName: 'ws.example.com',
      domainZone: zone,
      logEncryptionKey: new kms.Key(stack, 'Key', { enableKeyRotation: true }),
      logRemovalPolicy: RemovalPolicy.DESTROY,
      accessLogsRemovalPolicy: RemovalPolicy.DESTROY,
      enableExecuteCommand: true,
      readonlyRootFilesystem: false,
      capacityProviderStrategies: [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }],
      healthCheckGracePeriod: Duration.seconds(120),
    });
    expect(nagFindings(stack)).toEqual([]);
    expect(controlFindings(stack, 'Test/Service/')).toEqual(['CT.ECS.PR.6 ecs_containers_readonly_access_check on Test/Service/TaskDefinition/Resource']);
  });
});

describe('RealtimeFargateService access logs', () => {
  test('accessLogs: false writes no access logs, creates no bucket and acknowledges the findings with the prop as the reason', () => {
    const { stack, svc } = service({ accessLogs: false });
    const t = template(stack);
    expect(svc.accessLogsBucket).toBeUndefined();
    t.resourceCountIs('AWS::S3::Bucket', 0);
    const { props } = onlyResource(t, 'AWS::ElasticLoadBalancingV2::LoadBalancer');
    expect(props.LoadBalancerAttributes.find((a: any) => a.Key === 'access_logs.s3.enabled')).toBeUndefined();
    expect(nagFindings(stack)).toEqual([]);
    expect(acknowledgedControls(stack, 'Test/Service/LoadBalancer/Resource')).toEqual({
      'Test/Service/LoadBalancer/Resource': ['elbv2_logging_enabled_check'],
    });
    expect(controlFindings(stack, 'Test/Service/')).toEqual(['CT.CLOUDWATCH.PR.3 cloudwatch_log_group_encrypted_check on Test/Service/Logs/Resource']);
  });

  test('with access logs on (the default), nothing on the load balancer is acknowledged', () => {
    expect(acknowledgedControls(service().stack, 'Test/Service/LoadBalancer/Resource')).toEqual({});
  });

  test('accessLogs: false lets a stack without a region synthesize', () => {
    const stack = new Stack(new App(), 'Agnostic');
    const svc = new RealtimeFargateService(stack, 'Service', { image: testImage, insecureHttp: true, accessLogs: false });
    expect(Token.isUnresolved(stack.region)).toBe(true);
    expect(svc.accessLogsBucket).toBeUndefined();
    Template.fromStack(stack).resourceCountIs('AWS::ElasticLoadBalancingV2::LoadBalancer', 1);
  });
});

describe('RealtimeFargateService metrics', () => {
  const { stack, svc } = service();
  // Each method's TSDoc @default states this period and statistic.
  test.each<[string, () => ReturnType<RealtimeFargateService['metricRequestCount']>, string, number, string]>([
    ['metricActiveConnections', () => svc.metricActiveConnections(), 'ActiveConnections', 60, 'Average'],
    ['metricFromContainer', () => svc.metricFromContainer('MessagesOut'), 'MessagesOut', 60, 'Sum'],
    ['metricNewConnections', () => svc.metricNewConnections(), 'NewConnectionCount', 60, 'Sum'],
    ['metricRequestCount', () => svc.metricRequestCount(), 'RequestCount', 60, 'Sum'],
    ['metricHealthyTaskCount', () => svc.metricHealthyTaskCount(), 'HealthyHostCount', 60, 'Minimum'],
    ['metricLoadBalancer5xx', () => svc.metricLoadBalancer5xx(), 'HTTPCode_ELB_5XX_Count', 60, 'Sum'],
    ['metricCpuUtilization', () => svc.metricCpuUtilization(), 'CPUUtilization', 300, 'Average'],
    ['metricMemoryUtilization', () => svc.metricMemoryUtilization(), 'MemoryUtilization', 300, 'Average'],
  ])('%s defaults', (_name, make, metricName, periodSeconds, statistic) => {
    const metric = make();
    expect(metric.metricName).toBe(metricName);
    expect(metric.period.toSeconds()).toBe(periodSeconds);
    expect(metric.statistic).toBe(statistic);
  });

  test('every metric method takes period and statistic overrides', () => {
    const methods = Object.getOwnPropertyNames(RealtimeFargateService.prototype).filter(m => m.startsWith('metric') && m !== 'metricsServiceName');
    expect(methods.sort()).toEqual(['metricActiveConnections', 'metricCpuUtilization', 'metricFromContainer', 'metricHealthyTaskCount',
      'metricLoadBalancer5xx', 'metricMemoryUtilization', 'metricNewConnections', 'metricRequestCount']);
    for (const method of methods) {
      const call = (svc as any)[method].bind(svc);
      const metric = method === 'metricFromContainer'
        ? call('Errors', { period: Duration.minutes(3), statistic: 'p99' })
        : call({ period: Duration.minutes(3), statistic: 'p99' });
      expect([method, metric.period.toSeconds(), metric.statistic]).toEqual([method, 180, 'p99']);
    }
  });

  test('metrics are dimensioned by this service\'s resources', () => {
    const resolved = (m: { toMetricConfig(): any }) => stack.resolve(m.toMetricConfig().metricStat.dimensions);
    expect(resolved(svc.metricCpuUtilization())).toEqual(expect.arrayContaining([
      { name: 'ServiceName', value: { 'Fn::GetAtt': [logicalId(stack, svc.service), 'Name'] } },
    ]));
    expect(resolved(svc.metricHealthyTaskCount())).toEqual(expect.arrayContaining([
      expect.objectContaining({ name: 'TargetGroup' }),
    ]));
  });
});

describe('RealtimeFargateService with durations from tokens', () => {
  test('takes idleTimeout and drainTimeout from parameters, skipping the synth-time checks', () => {
    const stack = testStack();
    const idle = new CfnParameter(stack, 'Idle', { type: 'Number', default: 300 });
    const drain = new CfnParameter(stack, 'Drain', { type: 'Number', default: 45 });
    const { vpc } = { vpc: new ec2.Vpc(stack, 'Vpc', { maxAzs: 2 }) };
    new RealtimeFargateService(stack, 'Service', {
      vpc,
      image: testImage,
      insecureHttp: true,
      idleTimeout: Duration.seconds(idle.valueAsNumber),
      drainTimeout: Duration.seconds(drain.valueAsNumber),
      healthCheckGracePeriod: Duration.seconds(idle.valueAsNumber),
    });
    const t = template(stack);
    const env = envOf(t);
    expect(env.REALTIME_IDLE_TIMEOUT_SECONDS).toEqual({ Ref: 'Idle' });
    expect(env.REALTIME_DRAIN_SECONDS).toEqual({ Ref: 'Drain' });
    // A drain window that cannot be added to at synth time gets Fargate's maximum stopTimeout.
    expect(onlyResource(t, 'AWS::ECS::TaskDefinition').props.ContainerDefinitions[0].StopTimeout).toBe(120);
    const lb = onlyResource(t, 'AWS::ElasticLoadBalancingV2::LoadBalancer').props;
    expect(lb.LoadBalancerAttributes).toContainEqual({ Key: 'idle_timeout.timeout_seconds', Value: { Ref: 'Idle' } });
    expect(onlyResource(t, 'AWS::ECS::Service').props.HealthCheckGracePeriodSeconds).toEqual({ Ref: 'Idle' });
  });
});
