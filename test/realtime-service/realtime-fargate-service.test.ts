import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { nagFindings } from '../../examples/shared/nag';
import { RealtimeFargateService, RealtimeFargateServiceProps } from '../../src';
import { acknowledgedControls, controlFindings, controlReason } from '../support/controls';
import { onlyResource, stackWithVpc, template, testImage, testStack } from '../support/stacks';

function envOf(t: Template): Record<string, any> {
  const { props } = onlyResource(t, 'AWS::ECS::TaskDefinition');
  return Object.fromEntries(props.ContainerDefinitions[0].Environment.map((e: any) => [e.Name, e.Value]));
}

function lbAttributes(t: Template): Record<string, string> {
  const { props } = onlyResource(t, 'AWS::ElasticLoadBalancingV2::LoadBalancer');
  return Object.fromEntries(props.LoadBalancerAttributes.map((a: any) => [a.Key, a.Value]));
}

function tgAttributes(t: Template): Record<string, string> {
  const { props } = onlyResource(t, 'AWS::ElasticLoadBalancingV2::TargetGroup');
  return Object.fromEntries((props.TargetGroupAttributes ?? []).map((a: any) => [a.Key, a.Value]));
}

/** The log groups the service created, by construct path. */
function serviceLogGroups(stack: Stack): Record<string, any> {
  return Object.fromEntries(stack.node.findAll()
    .filter((c): c is logs.CfnLogGroup => c instanceof logs.CfnLogGroup && c.node.path.startsWith('Test/Service/'))
    .map(c => [c.node.path, stack.resolve({ retention: c.retentionInDays, key: c.kmsKeyId })]));
}

function service(overrides: Partial<RealtimeFargateServiceProps> = {}): { stack: Stack; svc: RealtimeFargateService; vpc: ec2.Vpc } {
  const { stack, vpc } = stackWithVpc();
  const svc = new RealtimeFargateService(stack, 'Service', { vpc, image: testImage, insecureHttp: true, ...overrides });
  return { stack, svc, vpc };
}

describe('RealtimeFargateService defaults', () => {
  const { stack, svc } = service();
  const t = template(stack);

  test('runs ARM64 tasks of 0.5 vCPU and 1 GiB with a read-only root and a writable /tmp', () => {
    t.hasResourceProperties('AWS::ECS::TaskDefinition', {
      Cpu: '512',
      Memory: '1024',
      RuntimePlatform: { CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' },
      RequiresCompatibilities: ['FARGATE'],
      Volumes: [{ Name: 'tmp' }],
      ContainerDefinitions: [Match.objectLike({
        ReadonlyRootFilesystem: true,
        MountPoints: [{ ContainerPath: '/tmp', ReadOnly: false, SourceVolume: 'tmp' }],
        PortMappings: [{ ContainerPort: 8080, Name: 'http', Protocol: 'tcp' }],
        StopTimeout: 40,
        LogConfiguration: Match.objectLike({ LogDriver: 'awslogs' }),
      })],
    });
  });

  test('sets the environment contract', () => {
    expect(envOf(t)).toEqual({
      PORT: '8080',
      REALTIME_IDLE_TIMEOUT_SECONDS: '120',
      REALTIME_DRAIN_SECONDS: '30',
      REALTIME_METRICS_NAMESPACE: 'CdkRealtime',
      REALTIME_METRICS_SERVICE: svc.metricsServiceName,
    });
    expect(svc.metricsServiceName).toMatch(/^TestService[0-9A-F]{8}$/);
  });

  test('keeps container logs a year, encrypted by CloudWatch Logs itself', () => {
    expect(serviceLogGroups(stack)).toEqual({ 'Test/Service/Logs/Resource': { retention: 365 } });
  });

  test('protects the load balancer from deletion', () => {
    expect(lbAttributes(t)['deletion_protection.enabled']).toBe('true');
  });

  test('sends the access-log bucket\'s object events to EventBridge, without a custom resource', () => {
    expect(onlyResource(t, 'AWS::S3::Bucket').props.NotificationConfiguration).toEqual({ EventBridgeConfiguration: { EventBridgeEnabled: true } });
    expect(t.findResources('Custom::S3BucketNotifications')).toEqual({});
  });

  test('creates a cluster with Container Insights in the given VPC', () => {
    t.hasResourceProperties('AWS::ECS::Cluster', { ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }] });
    t.resourceCountIs('AWS::EC2::VPC', 1);
  });

  test('runs tasks in private subnets with a rolling deploy that never drops capacity and rolls back on failure', () => {
    t.hasResourceProperties('AWS::ECS::Service', {
      LaunchType: 'FARGATE',
      HealthCheckGracePeriodSeconds: 60,
      DeploymentConfiguration: {
        MinimumHealthyPercent: 100,
        MaximumPercent: 200,
        DeploymentCircuitBreaker: { Enable: true, Rollback: true },
      },
      NetworkConfiguration: {
        AwsvpcConfiguration: Match.objectLike({
          AssignPublicIp: 'DISABLED',
          Subnets: [{ Ref: Match.stringLikeRegexp('VpcPrivateSubnet1') }, { Ref: Match.stringLikeRegexp('VpcPrivateSubnet2') }],
        }),
      },
    });
  });

  // "For existing services, if a desired count is not specified, it is omitted from the operation", while a
  // count in the template is applied on every update, undoing what auto scaling did:
  // https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-ecs-service.html#cfn-ecs-service-desiredcount
  test('an update never resets the task count: DesiredCount is left to the scalable target', () => {
    const ecsService = Object.values(t.findResources('AWS::ECS::Service'))[0] as any;
    expect(Object.keys(ecsService.Properties)).not.toContain('DesiredCount');
    const target = Object.values(t.findResources('AWS::ApplicationAutoScaling::ScalableTarget'))[0] as any;
    expect(target.Properties).toMatchObject({ ScalableDimension: 'ecs:service:DesiredCount', MinCapacity: 2 });
  });

  test('runs the container as a non-root user with a memory hard limit', () => {
    const definition = Object.values(t.findResources('AWS::ECS::TaskDefinition'))[0] as any;
    const [container] = definition.Properties.ContainerDefinitions;
    expect(container.User).toBeDefined();
    expect(['root', '0'].includes(String(container.User).split(':')[0])).toBe(false);
    expect(container.Memory).toBe(Number(definition.Properties.Memory));
  });

  test('gives the ALB a 120 s idle timeout, drops invalid headers and logs to the access-log bucket', () => {
    const attributes = lbAttributes(t);
    expect(attributes).toMatchObject({
      'idle_timeout.timeout_seconds': '120',
      'routing.http.drop_invalid_header_fields.enabled': 'true',
      'routing.http2.enabled': 'true',
      'access_logs.s3.enabled': 'true',
    });
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', { Scheme: 'internet-facing' });
  });

  test('encrypts the access-log bucket, blocks public access and denies requests without TLS', () => {
    t.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      VersioningConfiguration: { Status: 'Enabled' },
    });
    t.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({
          Effect: 'Deny',
          Action: 's3:*',
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        })]),
      },
    });
  });

  test('health-checks /healthz and drains for 30 s without stickiness', () => {
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      HealthCheckPath: '/healthz',
      HealthCheckIntervalSeconds: 10,
      HealthyThresholdCount: 2,
      UnhealthyThresholdCount: 3,
      Matcher: { HttpCode: '200' },
      TargetType: 'ip',
      Port: 8080,
    });
    const attributes = tgAttributes(t);
    expect(attributes['deregistration_delay.timeout_seconds']).toBe('30');
    expect(attributes['stickiness.enabled']).toBe('false');
  });

  test('with insecureHttp, serves HTTP on port 80 to the internet', () => {
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Port: 80,
      Protocol: 'HTTP',
      DefaultActions: [Match.objectLike({ Type: 'forward' })],
    });
    t.resourceCountIs('AWS::ElasticLoadBalancingV2::Listener', 1);
    t.hasResourceProperties('AWS::EC2::SecurityGroupIngress', { CidrIp: '0.0.0.0/0', FromPort: 80, ToPort: 80, IpProtocol: 'tcp' });
  });

  test('lets only the load balancer reach the tasks', () => {
    t.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      FromPort: 8080,
      ToPort: 8080,
      SourceSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('ServiceLoadBalancerSecurityGroup'), 'GroupId'] },
    });
  });

  test('scales 2-10 tasks on CPU 60 %, memory 70 % and 5000 connections per task, slower in than out', () => {
    t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 2, MaxCapacity: 10 });
    t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      TargetTrackingScalingPolicyConfiguration: {
        PredefinedMetricSpecification: { PredefinedMetricType: 'ECSServiceAverageCPUUtilization' },
        TargetValue: 60,
        ScaleInCooldown: 300,
        ScaleOutCooldown: 60,
      },
    });
    t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      TargetTrackingScalingPolicyConfiguration: {
        PredefinedMetricSpecification: { PredefinedMetricType: 'ECSServiceAverageMemoryUtilization' },
        TargetValue: 70,
        ScaleInCooldown: 300,
        ScaleOutCooldown: 60,
      },
    });
    t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      TargetTrackingScalingPolicyConfiguration: {
        CustomizedMetricSpecification: {
          Namespace: 'CdkRealtime',
          MetricName: 'ActiveConnections',
          Dimensions: [{ Name: 'Service', Value: svc.metricsServiceName }],
          Statistic: 'Average',
        },
        TargetValue: 5000,
        ScaleInCooldown: 300,
        ScaleOutCooldown: 60,
      },
    });
    t.resourceCountIs('AWS::CloudWatch::Alarm', 0);
  });

  test('exposes metrics of the container, the load balancer and the service', () => {
    const connections = stack.resolve(svc.metricActiveConnections().toMetricConfig().metricStat);
    expect(connections).toMatchObject({
      namespace: 'CdkRealtime',
      metricName: 'ActiveConnections',
      dimensions: [{ name: 'Service', value: svc.metricsServiceName }],
      statistic: 'Average',
    });
    expect(svc.metricActiveConnections().period.toSeconds()).toBe(60);
    expect(svc.metricFromContainer('MessagesOut').toMetricConfig().metricStat?.statistic).toBe('Sum');
    expect(svc.metricRequestCount().metricName).toBe('RequestCount');
    expect(svc.metricNewConnections().metricName).toBe('NewConnectionCount');
    expect(svc.metricHealthyTaskCount().metricName).toBe('HealthyHostCount');
    expect(svc.metricLoadBalancer5xx().metricName).toBe('HTTPCode_ELB_5XX_Count');
    expect(svc.metricCpuUtilization().metricName).toBe('CPUUtilization');
    expect(svc.metricMemoryUtilization().metricName).toBe('MemoryUtilization');
  });

  test('exposes its parts', () => {
    expect(svc.connections).toBe(svc.service.connections);
    expect(svc.keepaliveBoundSeconds).toBe(120);
    expect(svc.isFronted).toBe(false);
    expect(svc.container.containerName).toBe('Server');
    expect(svc.targetGroup).toBeDefined();
    expect(svc.scalableTaskCount).toBeDefined();
  });

  test('passes cdk-nag AwsSolutions with its reasoned acknowledgments', () => {
    expect(nagFindings(stack)).toEqual([]);
  });

  test('acknowledges Control Tower findings only on its access-log bucket and, for insecureHttp, on the HTTP listener', () => {
    expect(acknowledgedControls(stack, 'Test/Service/')).toEqual({
      'Test/Service/AccessLogs/Resource': ['s3_bucket_default_encryption_kms_check', 's3_bucket_logging_enabled_check', 's3_bucket_object_lock_enabled_check'],
      'Test/Service/LoadBalancer/Http/Resource': ['alb_http_to_https_redirection_check'],
    });
    // "The only server-side encryption option that's supported is Amazon S3-managed keys (SSE-S3)":
    // https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html
    expect(controlReason(stack, 'Test/Service/AccessLogs/Resource', 's3_bucket_default_encryption_kms_check'))
      .toBe('Application Load Balancer access logs can be delivered only to buckets encrypted with SSE-S3, which this bucket uses.');
    expect(controlReason(stack, 'Test/Service/LoadBalancer/Http/Resource', 'alb_http_to_https_redirection_check')).toMatch(/^insecureHttp was set .* for development only\.$/);
  });
});

describe('RealtimeFargateService under Control Tower\'s proactive controls', () => {
  test('with logEncryptionKey, leaves no unacknowledged finding on its resources', () => {
    const { stack, vpc } = stackWithVpc();
    new RealtimeFargateService(stack, 'Service', { vpc, image: testImage, insecureHttp: true, logEncryptionKey: new kms.Key(stack, 'Key') });
    expect(controlFindings(stack, 'Test/Service/')).toEqual([]);
  });

  test('without logEncryptionKey, the container log group is the only finding: CloudWatch Logs\' own key is the default', () => {
    expect(controlFindings(service().stack, 'Test/Service/')).toEqual([
      'CT.CLOUDWATCH.PR.3 cloudwatch_log_group_encrypted_check on Test/Service/Logs/Resource',
    ]);
  });

  test('with a certificate, port 80 redirects to HTTPS, which passes CT.ELB.PR.1 without an acknowledgement', () => {
    const { stack, vpc } = stackWithVpc();
    const certificate = acm.Certificate.fromCertificateArn(stack, 'Cert', 'arn:aws:acm:eu-west-1:123456789012:certificate/abc');
    new RealtimeFargateService(stack, 'Service', { vpc, image: testImage, certificate, logEncryptionKey: new kms.Key(stack, 'Key') });
    expect(Object.keys(acknowledgedControls(stack, 'Test/Service/LoadBalancer'))).toEqual([]);
    expect(controlFindings(stack, 'Test/Service/')).toEqual([]);
  });
});

describe('RealtimeFargateService props', () => {
  test('without a VPC or cluster, creates a VPC with flow logs over two AZs', () => {
    const stack = testStack();
    new RealtimeFargateService(stack, 'Service', { image: testImage, insecureHttp: true });
    const t = template(stack);
    t.resourceCountIs('AWS::EC2::VPC', 1);
    t.resourceCountIs('AWS::EC2::FlowLog', 1);
    t.resourceCountIs('AWS::EC2::NatGateway', 1);
    expect(Object.values(t.findResources('AWS::EC2::Subnet')).map(s => s.Properties.MapPublicIpOnLaunch)).toEqual([false, false, false, false]);
    expect(Object.values(t.findResources('AWS::Logs::LogGroup')).map(g => g.Properties.RetentionInDays)).toEqual([365, 365]);
    expect(nagFindings(stack)).toEqual([]);
  });

  test('logEncryptionKey encrypts the container and flow logs, and a key made in the app lets CloudWatch Logs of its region use it', () => {
    const stack = testStack();
    const key = new kms.Key(stack, 'Key');
    new RealtimeFargateService(stack, 'Service', { image: testImage, insecureHttp: true, logEncryptionKey: key, logRetention: logs.RetentionDays.TWO_YEARS });
    const t = template(stack);
    const keyArn = { 'Fn::GetAtt': [stack.getLogicalId(key.node.defaultChild as kms.CfnKey), 'Arn'] };
    expect(serviceLogGroups(stack)).toEqual({
      'Test/Service/Logs/Resource': { retention: 731, key: keyArn },
      'Test/Service/FlowLogs/Resource': { retention: 731, key: keyArn },
    });
    // The key policy AWS documents for CloudWatch Logs:
    // https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html
    const statements = onlyResource(t, 'AWS::KMS::Key').props.KeyPolicy.Statement;
    expect(statements.filter((s: any) => s.Principal?.Service === 'logs.eu-west-1.amazonaws.com')).toEqual([{
      Sid: 'CloudWatchLogsOfThisAccountAndRegion',
      Effect: 'Allow',
      Principal: { Service: 'logs.eu-west-1.amazonaws.com' },
      Action: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
      Resource: '*',
      Condition: {
        ArnLike: {
          'kms:EncryptionContext:aws:logs:arn': {
            'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':logs:eu-west-1:', { Ref: 'AWS::AccountId' }, ':log-group:*']],
          },
        },
      },
    }]);
    expect(controlFindings(stack, 'Test/Service/')).toEqual([]);
  });

  test('a key shared by two services, or whose policy already admits CloudWatch Logs, gets no second statement', () => {
    const { stack, vpc } = stackWithVpc();
    const shared = new kms.Key(stack, 'Shared');
    const ready = new kms.Key(stack, 'Ready');
    ready.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'Logs',
      principals: [new iam.ServicePrincipal('logs.eu-west-1.amazonaws.com')],
      actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
      resources: ['*'],
    }));
    new RealtimeFargateService(stack, 'One', { vpc, image: testImage, insecureHttp: true, logEncryptionKey: shared });
    new RealtimeFargateService(stack, 'Two', { vpc, image: testImage, insecureHttp: true, logEncryptionKey: shared });
    new RealtimeFargateService(stack, 'Three', { vpc, image: testImage, insecureHttp: true, logEncryptionKey: ready });
    const logsStatements = (id: string) => template(stack).findResources('AWS::KMS::Key')[id].Properties.KeyPolicy.Statement
      .filter((s: any) => s.Principal?.Service === 'logs.eu-west-1.amazonaws.com').map((s: any) => s.Sid);
    expect(logsStatements(stack.getLogicalId(shared.node.defaultChild as kms.CfnKey))).toEqual(['CloudWatchLogsOfThisAccountAndRegion']);
    expect(logsStatements(stack.getLogicalId(ready.node.defaultChild as kms.CfnKey))).toEqual(['Logs']);
  });

  test('an imported key is used as it is: its policy must already admit CloudWatch Logs', () => {
    const arn = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const { stack, vpc } = stackWithVpc();
    new RealtimeFargateService(stack, 'Service', { vpc, image: testImage, insecureHttp: true, logEncryptionKey: kms.Key.fromKeyArn(stack, 'Imported', arn) });
    expect(serviceLogGroups(stack)).toEqual({ 'Test/Service/Logs/Resource': { retention: 365, key: arn } });
    template(stack).resourceCountIs('AWS::KMS::Key', 0);
  });

  test('deletionProtection: false lets cdk destroy delete the load balancer', () => {
    expect(lbAttributes(template(service({ deletionProtection: false }).stack))['deletion_protection.enabled']).toBe('false');
  });

  test('uses a given cluster and its VPC', () => {
    const { stack, vpc } = stackWithVpc();
    const cluster = new ecs.Cluster(stack, 'Cluster', { vpc, containerInsightsV2: ecs.ContainerInsights.ENHANCED });
    const svc = new RealtimeFargateService(stack, 'Service', { cluster, image: testImage, insecureHttp: true });
    expect(svc.cluster).toBe(cluster);
    expect(svc.vpc).toBe(vpc);
    template(stack).resourceCountIs('AWS::ECS::Cluster', 1);
  });

  test('takes port, size, architecture, environment, secrets, root filesystem and log retention', () => {
    const { stack, vpc } = stackWithVpc();
    const secret = new secretsmanager.Secret(stack, 'ApiKey');
    new RealtimeFargateService(stack, 'Service', {
      vpc,
      image: testImage,
      insecureHttp: true,
      containerPort: 3000,
      cpu: 1024,
      memoryLimitMiB: 4096,
      cpuArchitecture: ecs.CpuArchitecture.X86_64,
      environment: { LOG_LEVEL: 'debug' },
      secrets: { API_KEY: ecs.Secret.fromSecretsManager(secret) },
      readonlyRootFilesystem: false,
      logRetention: logs.RetentionDays.ONE_MONTH,
    });
    const t = template(stack);
    t.hasResourceProperties('AWS::ECS::TaskDefinition', {
      Cpu: '1024',
      Memory: '4096',
      RuntimePlatform: { CpuArchitecture: 'X86_64' },
      ContainerDefinitions: [Match.objectLike({
        ReadonlyRootFilesystem: false,
        PortMappings: [Match.objectLike({ ContainerPort: 3000 })],
        Secrets: [{ Name: 'API_KEY', ValueFrom: { Ref: Match.stringLikeRegexp('ApiKey') } }],
      })],
    });
    expect(envOf(t)).toMatchObject({ PORT: '3000', LOG_LEVEL: 'debug' });
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', { Port: 3000 });
    t.hasResourceProperties('AWS::EC2::SecurityGroupIngress', { FromPort: 3000, ToPort: 3000 });
    t.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    // A user's own environment is theirs to vouch for: ECS2 is no longer acknowledged.
    const ours = nagFindings(stack).filter(f => !f.resources.every(r => r.startsWith('Test/ApiKey')));
    expect(ours.map(f => [f.rule, f.resources])).toEqual([['AwsSolutions-ECS2', ['Test/Service/TaskDefinition/Resource']]]);
  });

  test('idleTimeout sets the ALB timeout and a keepalive bound capped at CloudFront\'s 600 s', () => {
    const short = service({ idleTimeout: Duration.seconds(300) });
    expect(lbAttributes(template(short.stack))['idle_timeout.timeout_seconds']).toBe('300');
    expect(envOf(template(short.stack)).REALTIME_IDLE_TIMEOUT_SECONDS).toBe('300');
    const long = service({ idleTimeout: Duration.seconds(3600) });
    expect(lbAttributes(template(long.stack))['idle_timeout.timeout_seconds']).toBe('3600');
    expect(envOf(template(long.stack)).REALTIME_IDLE_TIMEOUT_SECONDS).toBe('600');
    expect(long.svc.keepaliveBoundSeconds).toBe(600);
  });

  test('drainTimeout sets the deregistration delay, the drain variable and stopTimeout = drain + 10 s, capped at 120 s', () => {
    const sixty = service({ drainTimeout: Duration.seconds(60) });
    const t = template(sixty.stack);
    expect(tgAttributes(t)['deregistration_delay.timeout_seconds']).toBe('60');
    expect(envOf(t).REALTIME_DRAIN_SECONDS).toBe('60');
    t.hasResourceProperties('AWS::ECS::TaskDefinition', { ContainerDefinitions: [Match.objectLike({ StopTimeout: 70 })] });

    const max = template(service({ drainTimeout: Duration.seconds(120) }).stack);
    max.hasResourceProperties('AWS::ECS::TaskDefinition', { ContainerDefinitions: [Match.objectLike({ StopTimeout: 120 })] });
    expect(tgAttributes(max)['deregistration_delay.timeout_seconds']).toBe('120');
  });

  test('stickySessions turns on load-balancer cookie stickiness', () => {
    const attributes = tgAttributes(template(service({ stickySessions: Duration.hours(1) }).stack));
    expect(attributes).toMatchObject({
      'stickiness.enabled': 'true',
      'stickiness.type': 'lb_cookie',
      'stickiness.lb_cookie.duration_seconds': '3600',
    });
  });

  test('healthCheckPath replaces /healthz', () => {
    template(service({ healthCheckPath: '/ready' }).stack)
      .hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', { HealthCheckPath: '/ready' });
  });

  test('a certificate gives an HTTPS listener with a TLS 1.2+ policy and a port-80 redirect', () => {
    const { stack, vpc } = stackWithVpc();
    const certificate = acm.Certificate.fromCertificateArn(stack, 'Cert', 'arn:aws:acm:eu-west-1:123456789012:certificate/abc');
    const svc = new RealtimeFargateService(stack, 'Service', { vpc, image: testImage, certificate });
    const t = template(stack);
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Port: 443,
      Protocol: 'HTTPS',
      SslPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06',
      Certificates: [{ CertificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/abc' }],
      DefaultActions: [Match.objectLike({ Type: 'forward' })],
    });
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Port: 80,
      Protocol: 'HTTP',
      DefaultActions: [{ Type: 'redirect', RedirectConfig: { Protocol: 'HTTPS', Port: '443', StatusCode: 'HTTP_301' } }],
    });
    t.hasResourceProperties('AWS::EC2::SecurityGroupIngress', { CidrIp: '0.0.0.0/0', FromPort: 443 });
    t.hasResourceProperties('AWS::EC2::SecurityGroupIngress', { CidrIp: '0.0.0.0/0', FromPort: 80 });
    expect(svc.listenerProtocol).toBe('HTTPS');
    expect(nagFindings(stack)).toEqual([]);
  });

  test('publicLoadBalancer: false makes the load balancer internal', () => {
    template(service({ publicLoadBalancer: false }).stack)
      .hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', { Scheme: 'internal' });
  });

  test('accessLogsBucket replaces the created bucket', () => {
    const { stack, vpc } = stackWithVpc();
    const bucket = new s3.Bucket(stack, 'Logs', { enforceSSL: true, serverAccessLogsPrefix: 'self/' });
    const svc = new RealtimeFargateService(stack, 'Service', { vpc, image: testImage, insecureHttp: true, accessLogsBucket: bucket });
    expect(svc.accessLogsBucket).toBe(bucket);
    template(stack).resourceCountIs('AWS::S3::Bucket', 1);
    expect(lbAttributes(template(stack))['access_logs.s3.bucket']).toEqual({ Ref: expect.stringMatching(/^Logs/) });
    // The user's bucket is theirs: neither changed nor acknowledged.
    expect(onlyResource(template(stack), 'AWS::S3::Bucket').props.NotificationConfiguration).toBeUndefined();
    expect(acknowledgedControls(stack, 'Test/Logs')).toEqual({});
  });

  test('scaling sets the range, targets and cooldowns', () => {
    const t = template(service({
      scaling: {
        minCapacity: 3,
        maxCapacity: 30,
        targetCpuUtilizationPercent: 50,
        targetMemoryUtilizationPercent: 80,
        connectionsPerTask: 2000,
        scaleInCooldown: Duration.minutes(10),
        scaleOutCooldown: Duration.seconds(30),
      },
    }).stack);
    t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 3, MaxCapacity: 30 });
    for (const target of [50, 80, 2000]) {
      t.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
        TargetTrackingScalingPolicyConfiguration: Match.objectLike({ TargetValue: target, ScaleInCooldown: 600, ScaleOutCooldown: 30 }),
      });
    }
  });

  test('taskSubnets places the tasks', () => {
    template(service({ taskSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED } }).stack).hasResourceProperties('AWS::ECS::Service', {
      NetworkConfiguration: { AwsvpcConfiguration: Match.objectLike({ Subnets: [{ Ref: Match.stringLikeRegexp('VpcDataSubnet1') }, { Ref: Match.stringLikeRegexp('VpcDataSubnet2') }] }) },
    });
  });

  test('serviceName names the ECS service and the metric dimension', () => {
    const { stack, svc } = service({ serviceName: 'canvas' });
    template(stack).hasResourceProperties('AWS::ECS::Service', { ServiceName: 'canvas' });
    expect(svc.metricsServiceName).toBe('canvas');
    expect(envOf(template(stack)).REALTIME_METRICS_SERVICE).toBe('canvas');
  });
});
