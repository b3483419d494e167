import { IntegTest } from '@aws-cdk/integ-tests-alpha';
import { App, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { BusMode, RedisPubSubBus } from '../src';

// Both modes side by side in one VPC with isolated subnets.
const app = new App();
const stack = new Stack(app, 'PubSubInteg', { env: { region: 'us-east-1' } });
const vpc = new ec2.Vpc(stack, 'Vpc', {
  maxAzs: 2,
  natGateways: 0,
  subnetConfiguration: [{ name: 'Data', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }],
});
new RedisPubSubBus(stack, 'Provisioned', { vpc });
new RedisPubSubBus(stack, 'Serverless', { vpc, mode: BusMode.serverless({ maxEcpuPerSecond: 10_000 }) });
new IntegTest(app, 'RedisPubSubBus', { testCases: [stack] });
