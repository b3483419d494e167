import { IntegTest } from '@aws-cdk/integ-tests-alpha';
import { App, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { ShardedBot } from '../src';

// Three shards with the command API and a worker; the functions' code is inline so the snapshot holds no assets.
const app = new App();
const stack = new Stack(app, 'BotInteg', { env: { region: 'us-east-1' } });
const vpc = new ec2.Vpc(stack, 'Vpc', {
  maxAzs: 2,
  natGateways: 1,
  subnetConfiguration: [
    { name: 'Public', subnetType: ec2.SubnetType.PUBLIC, mapPublicIpOnLaunch: false },
    { name: 'Private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
  ],
});
const token = new secretsmanager.Secret(stack, 'Token', { description: 'Gateway token of the integ bot (set by hand after deploy)' });
const handler = lambda.Code.fromInline('exports.handler = async () => ({ statusCode: 200, body: "{}" });');
new ShardedBot(stack, 'Bot', {
  vpc,
  image: ecs.ContainerImage.fromRegistry('public.ecr.aws/docker/library/node:24-alpine'),
  shardCount: 3,
  tokenSecret: token,
  commandApi: { code: handler, handler: 'index.handler' },
  worker: { code: handler, handler: 'index.handler' },
});
new IntegTest(app, 'ShardedBot', { testCases: [stack] });
