import { Duration, SecretValue, Size } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import { Construct } from 'constructs';
import { validateTemplate } from '../scripts/lib/cfn-spec';
import { BusEngine, BusMode, RealtimeFargateService, RedisPubSubBus } from '../src';
import { stackWithVpc, template, testImage } from './support/stacks';

// Configurations the examples do not cover, checked against the CloudFormation specification too.
describe('construct configurations are valid CloudFormation', () => {
  test('serverless bus, scale to zero, HTTPS, stickiness', () => {
    const { stack, vpc } = stackWithVpc();
    const bus = new RedisPubSubBus(stack, 'Bus', { vpc, engine: BusEngine.REDIS_7, mode: BusMode.serverless({ maxEcpuPerSecond: 5000, maxDataStorage: Size.gibibytes(5) }) });
    new RealtimeFargateService(stack, 'Service', {
      vpc,
      image: testImage,
      bus,
      certificate: acm.Certificate.fromCertificateArn(stack, 'Cert', 'arn:aws:acm:eu-west-1:123456789012:certificate/abc'),
      stickySessions: Duration.minutes(5),
      scaling: { minCapacity: 0 },
      scaleToZero: { idlePeriod: Duration.minutes(30) },
    });
    expect(validateTemplate(template(stack).toJSON())).toEqual([]);
  });

  test('fronted service and provisioned bus without replicas', () => {
    const { stack, vpc } = stackWithVpc();
    const bus = new RedisPubSubBus(stack, 'Bus', { vpc, mode: BusMode.provisioned({ replicas: 0 }) });
    const svc = new RealtimeFargateService(stack, 'Service', { vpc, image: testImage, bus });
    svc.addOriginProtection({ frontDoor: new Construct(stack, 'FrontDoor'), headerName: 'X-Origin-Verify', headerValue: SecretValue.unsafePlainText('v') });
    expect(validateTemplate(template(stack).toJSON())).toEqual([]);
  });
});
