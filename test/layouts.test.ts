import { App, Stack } from 'aws-cdk-lib';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { nagFindings } from '../examples/shared/nag';
import { validateTemplate } from '../scripts/lib/cfn-spec';
import {
  CdnFrontDoor, FrontDoorOrigin, FrontDoorSite, IndexFieldType, RealtimeFargateService, RedisPubSubBus, StreamIndexer,
} from '../src';
import { testImage } from './support/stacks';

// The layouts of README "Splitting into stacks", each synthesized as a whole app: no cycle, references in one
// direction only, every stack nag-clean and valid against the CloudFormation specification.
const ACCOUNT = '111122223333';
const site = FrontDoorSite.fromSources([s3deploy.Source.data('index.html', '<h1>chat</h1>')]);

/** Synthesizes the app and returns, per stack, the names of the stacks it depends on. */
function synthesize(app: App): Record<string, string[]> {
  const assembly = app.synth();
  const stacks = assembly.stacks;
  for (const artifact of stacks) {
    expect(validateTemplate(artifact.template)).toEqual([]);
  }
  return Object.fromEntries(stacks.map(s => [s.stackName, s.dependencies.map(d => d.id).filter(id => stacks.some(x => x.id === id))]));
}

function expectNagClean(...stacks: Stack[]): void {
  for (const stack of stacks) {
    expect(nagFindings(stack).map(f => `${stack.stackName}: ${f.rule} on ${f.resources.join(', ')}`)).toEqual([]);
  }
}

/** The data stack of the layouts: a VPC with flow logs, a bus and a streamed table, in eu-west-1. */
function dataStack(app: App) {
  const env = { account: ACCOUNT, region: 'eu-west-1' };
  const data = new Stack(app, 'Data', { env });
  const vpc = new ec2.Vpc(data, 'Vpc', { maxAzs: 2 });
  vpc.addFlowLog('FlowLog');
  const bus = new RedisPubSubBus(data, 'Bus', { vpc });
  const table = new dynamodb.Table(data, 'Messages', {
    partitionKey: { name: 'room', type: dynamodb.AttributeType.STRING },
    sortKey: { name: 'message', type: dynamodb.AttributeType.STRING },
    stream: dynamodb.StreamViewType.NEW_IMAGE,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
  });
  return { env, data, vpc, bus, table };
}

describe('multi-stack layouts', () => {
  test('data / app: bus and table in Data; service and indexer in App, which alone depends on the other', () => {
    const app = new App();
    const { env, data, vpc, bus, table } = dataStack(app);

    const services = new Stack(app, 'App', { env });
    const chat = new RealtimeFargateService(services, 'Chat', { vpc, image: testImage, insecureHttp: true, bus });
    table.grantReadWriteData(chat);
    const search = new StreamIndexer(services, 'Search', {
      table,
      documentId: ['room', 'message'],
      fields: [{ name: 'text', type: IndexFieldType.SEARCH_AS_YOU_TYPE }, { name: 'room', type: IndexFieldType.KEYWORD, filterable: true }],
      searchAuthorizer: new HttpIamAuthorizer(),
    });
    search.grantSearch(chat);

    expect(synthesize(app)).toEqual({ Data: [], App: ['Data'] });
    const appTemplate = JSON.stringify(app.synth().getStackByName('App').template);
    expect(appTemplate).toContain('"FromPort":6390');
    expect(JSON.stringify(app.synth().getStackByName('Data').template)).not.toContain('Fn::ImportValue');
    expectNagClean(data);
    // App's findings are the test's own choices (HTTP for development), acknowledged by the service itself.
    expectNagClean(services);
  });

  test('data / app / edge, as README writes it: three stacks, references from edge to app to data only', () => {
    const app = new App();
    const { env, data, vpc, bus, table } = dataStack(app);
    const services = new Stack(app, 'App', { env, crossRegionReferences: true });
    const chat = new RealtimeFargateService(services, 'Chat', { vpc, image: testImage, publicLoadBalancer: false, bus });
    table.grantReadWriteData(chat);
    const edge = new Stack(app, 'Edge', { env: { account: ACCOUNT, region: 'us-east-1' }, crossRegionReferences: true });
    new CdnFrontDoor(edge, 'FrontDoor', { site, realtime: [{ origin: FrontDoorOrigin.service(chat) }] });
    const dependencies = synthesize(app);
    expect(dependencies).toEqual({ Data: [], App: ['Data'], Edge: ['App'] });
    expectNagClean(data, services, edge);
  });

  test('app / edge in one region: an internet-facing service with a certificate keeps its secret in App', () => {
    const app = new App();
    const env = { account: ACCOUNT, region: 'eu-west-1' };
    const services = new Stack(app, 'App', { env });
    const certificate = acm.Certificate.fromCertificateArn(services, 'Cert', `arn:aws:acm:eu-west-1:${ACCOUNT}:certificate/origin`);
    const chat = new RealtimeFargateService(services, 'Chat', { image: testImage, certificate });
    const edge = new Stack(app, 'Edge', { env });
    new CdnFrontDoor(edge, 'FrontDoor', {
      site,
      realtime: [{ origin: FrontDoorOrigin.service(chat, { originDomainName: 'origin.example.com' }) }],
    });
    expect(synthesize(app)).toEqual({ App: [], Edge: ['App'] });
    expect(JSON.stringify(app.synth().getStackByName('App').template)).toContain('AWS::SecretsManager::Secret');
    expectNagClean(services, edge);
  });

  test('app / edge in two regions: a us-east-1 front door before an internal eu-west-1 service', () => {
    const app = new App();
    const services = new Stack(app, 'App', { env: { account: ACCOUNT, region: 'eu-west-1' }, crossRegionReferences: true });
    const chat = new RealtimeFargateService(services, 'Chat', { image: testImage, publicLoadBalancer: false });
    const edge = new Stack(app, 'Edge', { env: { account: ACCOUNT, region: 'us-east-1' }, crossRegionReferences: true });
    new CdnFrontDoor(edge, 'FrontDoor', { site, realtime: [{ origin: FrontDoorOrigin.service(chat) }] });
    const dependencies = synthesize(app);
    expect(dependencies.App).toEqual([]);
    expect(dependencies.Edge).toEqual(['App']);
    // The security group can only reference a prefix list of its own region: eu-west-1's origin-facing list.
    const rules = Object.values<any>(app.synth().getStackByName('App').template.Resources)
      .filter(r => r.Type === 'AWS::EC2::SecurityGroupIngress' && r.Properties.SourcePrefixListId);
    expect(rules.map(r => r.Properties.SourcePrefixListId)).toEqual(['pl-4fa04526']);
  });

  test('an existing bus from another app: the importing stack opens the port and reads the token itself', () => {
    const app = new App();
    const services = new Stack(app, 'App', { env: { account: ACCOUNT, region: 'eu-west-1' } });
    const vpc = new ec2.Vpc(services, 'Vpc', { maxAzs: 2 });
    vpc.addFlowLog('FlowLog');
    const secretArn = `arn:aws:secretsmanager:eu-west-1:${ACCOUNT}:secret:bus-token-AbCdEf`;
    const bus = RedisPubSubBus.fromRedisPubSubBusAttributes(services, 'Bus', {
      securityGroupId: 'sg-0123456789abcdef0',
      endpointAddress: 'master.bus.abc123.euw1.cache.amazonaws.com',
      port: 6390,
      authSecret: secretsmanager.Secret.fromSecretCompleteArn(services, 'Token', secretArn),
      isClusterMode: false,
    });
    new RealtimeFargateService(services, 'Chat', { vpc, image: testImage, insecureHttp: true, bus });
    expect(synthesize(app)).toEqual({ App: [] });
    const resources = Object.values<any>(app.synth().getStackByName('App').template.Resources);
    expect(resources.filter(r => r.Type === 'AWS::EC2::SecurityGroupIngress' && r.Properties.GroupId === 'sg-0123456789abcdef0')
      .map(r => r.Properties.FromPort)).toEqual([6390]);
    expect(JSON.stringify(resources.filter(r => r.Type === 'AWS::IAM::Policy'))).toContain(secretArn);
    expectNagClean(services);
  });
});
