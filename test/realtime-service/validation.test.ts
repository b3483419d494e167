import { App, Duration, Stack } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { RealtimeFargateService, RealtimeFargateServiceProps } from '../../src';
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
      .toThrow("Agnostic/Service: the stack has no region, which ALB access logging needs (log delivery is granted to a region-specific principal); set env: { region: 'us-east-1' } (or process.env.CDK_DEFAULT_REGION) on the stack");
  });
});
