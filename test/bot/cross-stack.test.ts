import { App, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { RedisPubSubBus, ShardedBot } from '../../src';
import { testImage } from '../support/stacks';

describe('ShardedBot across stacks', () => {
  test('VPC, bus and token in a data stack, the bot in an app stack: references flow one way', () => {
    const app = new App();
    const env = { region: 'eu-west-1' };
    const data = new Stack(app, 'Data', { env });
    const vpc = new ec2.Vpc(data, 'Vpc', { maxAzs: 2 });
    const bus = new RedisPubSubBus(data, 'Bus', { vpc });
    const token = new secretsmanager.Secret(data, 'Token');
    const services = new Stack(app, 'App', { env });
    const code = lambda.Code.fromInline('exports.handler = async () => ({})');
    new ShardedBot(services, 'Bot', {
      vpc,
      bus,
      image: testImage,
      shardCount: 3,
      tokenSecret: token,
      commandApi: { code, handler: 'index.handler' },
      worker: { code, handler: 'index.handler' },
    });
    const assembly = app.synth();
    const stackDependencies = (name: string) => assembly.getStackByName(name).dependencies.map(d => d.id).filter(id => !id.endsWith('.assets'));
    expect(stackDependencies('App')).toEqual(['Data']);
    expect(stackDependencies('Data')).toEqual([]);
    // The bus's ingress rule from the shards lives in the app stack.
    const appResources = Object.values<any>(assembly.getStackByName('App').template.Resources);
    expect(appResources.filter(r => r.Type === 'AWS::EC2::SecurityGroupIngress')).toHaveLength(1);
    expect(appResources.filter(r => r.Type === 'AWS::ECS::Service')).toHaveLength(3);
  });

  test('a token secret with its own key in the data stack: the shards decrypt it through Secrets Manager, without a cycle', () => {
    const app = new App();
    const env = { region: 'eu-west-1' };
    const data = new Stack(app, 'Data', { env });
    const vpc = new ec2.Vpc(data, 'Vpc', { maxAzs: 2 });
    const key = new kms.Key(data, 'TokenKey', { enableKeyRotation: true });
    const token = new secretsmanager.Secret(data, 'Token', { encryptionKey: key });
    const services = new Stack(app, 'App', { env });
    new ShardedBot(services, 'Bot', { vpc, image: testImage, shardCount: 2, tokenSecret: token, tokenSecretField: 'token' });
    const assembly = app.synth();
    const template = assembly.getStackByName('App').template;
    const policies = Object.values<any>(template.Resources).filter(r => r.Type === 'AWS::IAM::Policy');
    const statements = policies.flatMap(p => p.Properties.PolicyDocument.Statement);
    expect(statements).toContainEqual(expect.objectContaining({
      Action: 'kms:Decrypt',
      Condition: { StringEquals: { 'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com' } },
    }));
    expect(statements).toContainEqual(expect.objectContaining({ Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'] }));
    // The key policy in the data stack names no role of the app stack.
    expect(JSON.stringify(assembly.getStackByName('Data').template)).not.toContain('ExecutionRole');
    const secrets = Object.values<any>(template.Resources).filter(r => r.Type === 'AWS::ECS::TaskDefinition')
      .map(r => r.Properties.ContainerDefinitions[0].Secrets[0]);
    expect(secrets).toHaveLength(2);
    expect(JSON.stringify(secrets[0].ValueFrom)).toContain(':token::');
  });
});
