import { App, CfnParameter, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { RealtimeFargateService, RealtimeFargateServiceProps } from '../../src';
import { checkSeconds } from '../../src/private/validation';
import { stackWithVpc, synthError, testImage } from '../support/stacks';

function create(props: Partial<RealtimeFargateServiceProps>): () => RealtimeFargateService {
  return () => {
    const { stack, vpc } = stackWithVpc();
    return new RealtimeFargateService(stack, 'Service', { vpc, image: testImage, insecureHttp: true, ...props });
  };
}

describe('RealtimeFargateService rejects bad props with the construct, prop, value and fix', () => {
  test.each<[string, Partial<RealtimeFargateServiceProps>, string]>([
    ['drain over Fargate\'s limit', { drainTimeout: Duration.seconds(200) },
      "Test/Service: drainTimeout 200s exceeds Fargate's stopTimeout's 120s limit; use a value from 0s to 120s"],
    ['idle timeout of 0', { idleTimeout: Duration.seconds(0) },
      "Test/Service: idleTimeout 0s is below the ALB's 1s minimum; use a value from 1s to 4000s"],
    ['idle timeout over 4000 s', { idleTimeout: Duration.seconds(4001) },
      "Test/Service: idleTimeout 4001s exceeds the ALB's 4000s limit; use a value from 1s to 4000s"],
    ['fractional idle timeout', { idleTimeout: Duration.millis(1500) },
      'Test/Service: idleTimeout 1.5s is not a whole number of seconds; use whole seconds'],
    ['stickiness over 7 days', { stickySessions: Duration.days(8) },
      "Test/Service: stickySessions 691200s exceeds ALB stickiness's 604800s limit; use a value from 1s to 604800s"],
    ['negative minimum', { scaling: { minCapacity: -1 } },
      'Test/Service: scaling.minCapacity -1 is not a whole number from 0 to 5000; use a value from 0 to 5000'],
    ['zero maximum', { scaling: { maxCapacity: 0 } },
      'Test/Service: scaling.maxCapacity 0 is not a whole number from 1 to 5000; use a value from 1 to 5000'],
    ['minimum above maximum', { scaling: { minCapacity: 5, maxCapacity: 3 } },
      'Test/Service: scaling.minCapacity 5 is greater than scaling.maxCapacity 3; raise maxCapacity or lower minCapacity'],
    ['scale-to-zero options while the minimum is above 0', { scaling: { minCapacity: 2 }, scaleToZero: { wakeCapacity: 2 } },
      "Test/Service: scaleToZero '{wakeCapacity}' only tunes scale to zero, which is off while scaling.minCapacity is 2; set scaling.minCapacity to 0 to scale to zero when idle, or remove scaleToZero"],
    ['an empty scaleToZero does not turn it on', { scaleToZero: {} },
      "Test/Service: scaleToZero '{}' only tunes scale to zero, which is off while scaling.minCapacity is 2; set scaling.minCapacity to 0 to scale to zero when idle, or remove scaleToZero"],
    ['connection target of 0', { scaling: { connectionsPerTask: 0 } },
      'Test/Service: scaling.connectionsPerTask 0 is not a whole number from 1 to 1000000; use a value from 1 to 1000000'],
    ['CPU target over 100 %', { scaling: { targetCpuUtilizationPercent: 120 } },
      'Test/Service: scaling.targetCpuUtilizationPercent 120 is not a whole number from 1 to 100; use a value from 1 to 100'],
    ['idle period of seconds', { scaling: { minCapacity: 0 }, scaleToZero: { idlePeriod: Duration.seconds(90) } },
      'Test/Service: scaleToZero.idlePeriod 90s is not whole minutes; use whole minutes (alarm periods are 60 s)'],
    ['idle period over a day', { scaling: { minCapacity: 0 }, scaleToZero: { idlePeriod: Duration.hours(25) } },
      "Test/Service: scaleToZero.idlePeriod 90000s exceeds CloudWatch alarm evaluation's 86400s limit; use a value from 60s to 86400s"],
    ['wake capacity above maximum', { scaling: { minCapacity: 0 }, scaleToZero: { wakeCapacity: 11 } },
      'Test/Service: scaleToZero.wakeCapacity 11 is not a whole number from 1 to 10; use a value from 1 to 10'],
    ['container port out of range', { containerPort: 70000 },
      'Test/Service: containerPort 70000 is not a whole number from 1 to 65535; use a value from 1 to 65535'],
    ['fractional health-check grace period', { healthCheckGracePeriod: Duration.millis(2500) },
      'Test/Service: healthCheckGracePeriod 2.5s is not a whole number of seconds; use whole seconds'],
    ['sslPolicy without a certificate', { sslPolicy: elbv2.SslPolicy.TLS13_13 },
      "Test/Service: sslPolicy 'ELBSecurityPolicy-TLS13-1-3-2021-06' applies to the HTTPS listener, which only a certificate creates; give certificate, or remove sslPolicy"],
    ['domainName without domainZone', { domainName: 'ws.example.com' },
      "Test/Service: domainName 'ws.example.com' needs domainZone for its A record; give the Route 53 hosted zone of the name as domainZone"],
    ['ECS Exec with a read-only root filesystem', { enableExecuteCommand: true },
      'Test/Service: enableExecuteCommand true needs a writable root filesystem, where the ECS Exec agent writes its state and logs; set readonlyRootFilesystem: false as well, or remove enableExecuteCommand'],
    ['no capacity provider strategies', { capacityProviderStrategies: [] },
      "Test/Service: capacityProviderStrategies '[]' is empty; name at least one provider, e.g. [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }], or remove it to use the FARGATE launch type"],
    ['accessLogsRemovalPolicy without access logs', { accessLogs: false, accessLogsRemovalPolicy: RemovalPolicy.DESTROY },
      "Test/Service: accessLogsRemovalPolicy 'destroy' applies to the access-log bucket, which accessLogs: false does not create; remove accessLogsRemovalPolicy"],
    ['a contract variable in environment', { environment: { REALTIME_DRAIN_SECONDS: '5' } },
      "Test/Service: environment.REALTIME_DRAIN_SECONDS '5' is part of the environment contract this construct sets; remove it; use containerPort, idleTimeout, drainTimeout or connect a bus instead"],
  ])('%s', (_name, props, message) => {
    expect(create(props)).toThrow(message);
  });

  test('a certificate together with insecureHttp', () => {
    const { stack, vpc } = stackWithVpc();
    const certificate = acm.Certificate.fromCertificateArn(stack, 'Cert', 'arn:aws:acm:eu-west-1:123456789012:certificate/abc');
    expect(() => new RealtimeFargateService(stack, 'Service', { vpc, image: testImage, certificate, insecureHttp: true }))
      .toThrow('Test/Service: insecureHttp true contradicts certificate; remove insecureHttp to serve HTTPS, or remove certificate for a development stack');
  });

  test('both vpc and cluster', () => {
    const { stack, vpc } = stackWithVpc();
    const cluster = new ecs.Cluster(stack, 'Cluster', { vpc });
    expect(() => new RealtimeFargateService(stack, 'Service', { vpc, cluster, image: testImage, insecureHttp: true }))
      .toThrow("Test/Service: vpc 'Test/Vpc' is ignored when cluster is given; remove vpc; the cluster's VPC is used");
  });

  test('a service that is neither secure nor fronted fails synthesis', () => {
    const { stack, vpc } = stackWithVpc();
    new RealtimeFargateService(stack, 'Service', { vpc, image: testImage });
    expect(synthError(stack)).toContain('Test/Service: certificate is not set, no front door routes to the service and insecureHttp is not set, '
      + 'so the load balancer would serve plain HTTP to the internet; give a certificate, route a CdnFrontDoor to this service, or set insecureHttp: true for a development stack');
  });

  test('a stack without a region', () => {
    const stack = new Stack(new App(), 'Agnostic');
    expect(() => new RealtimeFargateService(stack, 'Service', { image: testImage, insecureHttp: true }))
      .toThrow("Agnostic/Service: the stack has no region, which ALB access logging needs (log delivery is granted to a region-specific principal); set env: { region: 'us-east-1' } (or process.env.CDK_DEFAULT_REGION) on the stack, or set accessLogs: false to run without load-balancer access logs");
  });

  test('domainZone without domainName', () => {
    const { stack, vpc } = stackWithVpc();
    const domainZone = route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: 'Z123', zoneName: 'example.com' });
    expect(() => new RealtimeFargateService(stack, 'Service', { vpc, image: testImage, insecureHttp: true, domainZone }))
      .toThrow("Test/Service: domainZone 'Test/Zone' is used only with domainName; give domainName, or remove domainZone");
  });

  test('a bucket given with accessLogs: false, or with accessLogsRemovalPolicy', () => {
    const { stack, vpc } = stackWithVpc();
    const accessLogsBucket = new s3.Bucket(stack, 'Logs');
    expect(() => new RealtimeFargateService(stack, 'A', { vpc, image: testImage, insecureHttp: true, accessLogs: false, accessLogsBucket }))
      .toThrow("Test/A: accessLogsBucket 'Test/Logs' contradicts accessLogs: false; remove accessLogsBucket, or accessLogs: false to keep access logs");
    expect(() => new RealtimeFargateService(stack, 'B', { vpc, image: testImage, insecureHttp: true, accessLogsBucket, accessLogsRemovalPolicy: RemovalPolicy.DESTROY }))
      .toThrow("Test/B: accessLogsRemovalPolicy 'destroy' applies only to a bucket the service creates, not to the given accessLogsBucket; set the removal policy on the given bucket, or remove accessLogsRemovalPolicy");
  });
});

describe('checkSeconds', () => {
  test('returns the seconds of a duration in range', () => {
    const stack = new Stack(new App(), 'Check');
    expect(checkSeconds(stack, 'timeout', Duration.minutes(2), 0, 300, 'the limit')).toBe(120);
  });

  test('rejects fractions and values out of range', () => {
    const stack = new Stack(new App(), 'Check');
    expect(() => checkSeconds(stack, 'timeout', Duration.millis(500), 0, 300, 'the limit')).toThrow('Check: timeout 0.5s is not a whole number of seconds; use whole seconds');
    expect(() => checkSeconds(stack, 'timeout', Duration.minutes(6), 0, 300, 'the limit')).toThrow("Check: timeout 360s exceeds the limit's 300s limit; use a value from 0s to 300s");
  });

  test('skips an unresolved duration and returns undefined, in any unit', () => {
    const stack = new Stack(new App(), 'Check');
    const value = new CfnParameter(stack, 'Value', { type: 'Number' }).valueAsNumber;
    expect(checkSeconds(stack, 'timeout', Duration.seconds(value), 0, 300, 'the limit')).toBeUndefined();
    expect(checkSeconds(stack, 'timeout', Duration.minutes(value), 0, 300, 'the limit')).toBeUndefined();
    expect(checkSeconds(stack, 'timeout', Duration.millis(value), 0, 300, 'the limit')).toBeUndefined();
  });
});
