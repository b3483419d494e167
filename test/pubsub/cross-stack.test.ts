import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { nagFindings } from '../../examples/shared/nag';
import { IRedisPubSubBus, RealtimeFargateService, RedisPubSubBus } from '../../src';
import { acknowledgeNag } from '../../src/private/nag';
import { controlFindings } from '../support/controls';
import { testImage, threeTierVpc } from '../support/stacks';

const env = { region: 'eu-west-1' };

/**
 * A data stack with the VPC and the bus, and an app stack with a RealtimeFargateService, a plain
 * FargateService and a Lambda function connected to it: the layout platform teams use, where the data
 * outlives the services.
 */
function dataAndApp(makeBus: (app: Stack, data: { stack: Stack; bus: RedisPubSubBus }) => IRedisPubSubBus = (_app, data) => data.bus) {
  const app = new App();
  const data = new Stack(app, 'Data', { env });
  const vpc = threeTierVpc(data);
  const key = new kms.Key(data, 'Key', { enableKeyRotation: true });
  const created = new RedisPubSubBus(data, 'Bus', { vpc, encryptionKey: key, logEncryptionKey: key });

  const appStack = new Stack(app, 'App', { env });
  // Each stack encrypts its logs with its own key: Control Tower's CT.CLOUDWATCH.PR.3 accepts a key ARN or a
  // key of the same template, not an Fn::ImportValue.
  const appKey = new kms.Key(appStack, 'Key', { enableKeyRotation: true });
  const bus = makeBus(appStack, { stack: data, bus: created });
  const realtime = new RealtimeFargateService(appStack, 'Realtime', { vpc, image: testImage, insecureHttp: true, bus, logEncryptionKey: appKey });

  const cluster = new ecs.Cluster(appStack, 'Cluster', { vpc, containerInsightsV2: ecs.ContainerInsights.ENABLED });
  const taskDefinition = new ecs.FargateTaskDefinition(appStack, 'Task');
  taskDefinition.addContainer('App', {
    image: testImage,
    logging: ecs.LogDrivers.awsLogs({
      streamPrefix: 'app',
      logGroup: new logs.LogGroup(appStack, 'PlainLogs', { retention: logs.RetentionDays.ONE_YEAR, encryptionKey: appKey }),
    }),
  });
  const plain = new ecs.FargateService(appStack, 'Plain', { cluster, taskDefinition });
  bus.connect(plain);

  const fn = new lambda.Function(appStack, 'Fn', {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => {}'),
    vpc,
    timeout: Duration.seconds(5),
  });
  bus.connectFunction(fn);

  // The fixtures' own findings, which the bus neither causes nor should hide on resources it does not own.
  acknowledgeNag(taskDefinition, 'ECS2', 'The test fixture\'s environment holds only the bus URL and cluster flag, which are not secret.');
  for (const policy of ['AWSLambdaBasicExecutionRole', 'AWSLambdaVPCAccessExecutionRole']) {
    acknowledgeNag(fn.role!, `IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/${policy}]`, 'The test fixture uses the managed policies that Lambda documents for functions in a VPC.');
  }
  acknowledgeNag(fn, 'L1', 'The test fixture pins a runtime so the test does not change when a new one is released.');
  return { app, data, appStack, bus, created, realtime, plain, fn, key };
}

/** The ingress rules of a template on the bus's port. */
function busRules(t: Template): any[] {
  return Object.values(t.findResources('AWS::EC2::SecurityGroupIngress', { Properties: { FromPort: 6390 } })).map((r: any) => r.Properties);
}

describe('RedisPubSubBus in a data stack, its consumers in an app stack', () => {
  const { app, data, appStack } = dataAndApp();
  // Synthesizing the whole app is what fails with a dependency cycle when a rule points the wrong way.
  const assembly = app.synth();
  const dataTemplate = Template.fromJSON(assembly.getStackByName('Data').template);
  const appTemplate = Template.fromJSON(assembly.getStackByName('App').template);

  test('synthesizes, and the app stack depends on the data stack, not the other way round', () => {
    expect(appStack.dependencies).toContain(data);
    expect(data.dependencies).not.toContain(appStack);
    expect(JSON.stringify(dataTemplate.toJSON())).not.toContain('Fn::ImportValue');
  });

  test('the app stack holds one ingress rule per consumer, on the bus\'s group and port only', () => {
    const rules = busRules(appTemplate);
    expect(rules).toHaveLength(3);
    for (const rule of rules) {
      expect(rule).toEqual(expect.objectContaining({
        IpProtocol: 'tcp',
        FromPort: 6390,
        ToPort: 6390,
        GroupId: { 'Fn::ImportValue': expect.stringMatching(/BusSecurityGroup/) },
      }));
    }
    const sources = rules.map(r => r.SourceSecurityGroupId['Fn::GetAtt'][0]).sort();
    expect(sources).toEqual([
      expect.stringMatching(/^FnSecurityGroup/),
      expect.stringMatching(/^PlainSecurityGroup/),
      expect.stringMatching(/^RealtimeService.*SecurityGroup/),
    ]);
    expect(busRules(dataTemplate)).toEqual([]);
    const { Properties: busGroup } = Object.values<any>(dataTemplate.findResources('AWS::EC2::SecurityGroup', {
      Properties: { GroupDescription: Match.stringLikeRegexp('Cache of Data/Bus') },
    }))[0];
    expect(busGroup.SecurityGroupIngress).toBeUndefined();
  });

  test('the URL and the secret reach the consumers as imports from the data stack', () => {
    appTemplate.hasResourceProperties('AWS::ECS::TaskDefinition', {
      ContainerDefinitions: [Match.objectLike({
        Environment: Match.arrayWith([{
          Name: 'REALTIME_BUS_URL',
          Value: { 'Fn::Join': ['', ['rediss://', { 'Fn::ImportValue': Match.stringLikeRegexp('BusReplicationGroup') }, ':6390']] },
        }]),
        Secrets: [{ Name: 'REALTIME_BUS_AUTH', ValueFrom: { 'Fn::ImportValue': Match.stringLikeRegexp('BusAuthToken') } }],
      })],
    });
    appTemplate.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ REALTIME_BUS_AUTH_SECRET_ARN: { 'Fn::ImportValue': Match.stringLikeRegexp('BusAuthToken') } }) },
    });
  });

  test('grants live in the app stack: the function\'s role and both execution roles may read the token', () => {
    const readers = Object.values<any>(appTemplate.findResources('AWS::IAM::Policy'))
      .filter(p => JSON.stringify(p.Properties.PolicyDocument).includes('secretsmanager:GetSecretValue'))
      .map(p => p.Properties.Roles[0].Ref).sort();
    expect(readers).toEqual([
      expect.stringMatching(/^FnServiceRole/),
      expect.stringMatching(/^RealtimeTaskDefinitionExecutionRole/),
      expect.stringMatching(/^TaskExecutionRole/),
    ]);
    // The data stack's key is in another stack, so decrypting the token is granted in the roles' own policies,
    // limited to use through Secrets Manager, rather than by naming the roles in the key policy.
    appTemplate.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^FnServiceRole') }],
      PolicyDocument: {
        Statement: Match.arrayWith([{
          Action: 'kms:Decrypt',
          Condition: { StringEquals: { 'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com' } },
          Effect: 'Allow',
          Resource: { 'Fn::ImportValue': Match.stringLikeRegexp('Key') },
        }]),
      },
    });
  });

  test('both stacks pass cdk-nag AwsSolutions (the fixtures\' own findings acknowledged in dataAndApp)', () => {
    expect(nagFindings(data)).toEqual([]);
    expect(nagFindings(appStack)).toEqual([]);
  });

  test('both stacks pass Control Tower\'s proactive controls, but for the test fixtures\' own findings', () => {
    expect(controlFindings(data, 'Data/Bus/')).toEqual([]);
    // The plain task definition, the function and the keys are fixtures the library does not create.
    const fixtures = /on App\/(Task|Fn|Key)\/Resource$/;
    expect(controlFindings(appStack, 'App/').filter(f => !fixtures.test(f))).toEqual([]);
  });
});

describe('RedisPubSubBus.fromRedisPubSubBusAttributes', () => {
  test('an imported bus connects the same way: rule, URL and secret in the consumer\'s stack, no cycle', () => {
    const { app, data, appStack, bus } = dataAndApp((stack, { bus: created }) => RedisPubSubBus.fromRedisPubSubBusAttributes(stack, 'ImportedBus', {
      securityGroup: created.securityGroup,
      endpointAddress: created.endpointAddress,
      port: created.port,
      authSecret: created.authSecret,
      isClusterMode: created.isClusterMode,
    }));
    const assembly = app.synth();
    expect(appStack.dependencies).toContain(data);
    expect(data.dependencies).not.toContain(appStack);
    expect(busRules(Template.fromJSON(assembly.getStackByName('App').template))).toHaveLength(3);
    expect(busRules(Template.fromJSON(assembly.getStackByName('Data').template))).toHaveLength(0);
    expect(bus.isClusterMode).toBe(false);
  });

  test('from plain values of another app: security group id, endpoint, port, secret and cluster mode', () => {
    const stack = new Stack(new App(), 'Consumer', { env: { region: 'eu-west-1', account: '111111111111' } });
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2 });
    const bus = RedisPubSubBus.fromRedisPubSubBusAttributes(stack, 'Bus', {
      securityGroupId: 'sg-0123456789abcdef0',
      endpointAddress: 'bus.abc123.serverless.euw1.cache.amazonaws.com',
      port: 6379,
      authSecret: secretsmanager.Secret.fromSecretCompleteArn(stack, 'Token',
        'arn:aws:secretsmanager:eu-west-1:111111111111:secret:bus-token-AbCdEf'),
      isClusterMode: true,
    });
    const fn = new lambda.Function(stack, 'Fn', {
      runtime: lambda.Runtime.NODEJS_22_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('exports.handler = async () => {}'),
      vpc,
    });
    bus.connectFunction(fn);
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      GroupId: 'sg-0123456789abcdef0',
      FromPort: 6379,
      ToPort: 6379,
      SourceSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^FnSecurityGroup'), 'GroupId'] },
    });
    t.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: {
          REALTIME_BUS_URL: 'rediss://bus.abc123.serverless.euw1.cache.amazonaws.com:6379',
          REALTIME_BUS_CLUSTER: 'true',
          REALTIME_BUS_AUTH_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:bus-token-AbCdEf',
        },
      },
    });
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({
          Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
          Resource: 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:bus-token-AbCdEf',
        })]),
      },
    });
  });

  test('a function whose environment cannot be set still gets the rule and the grant, and a warning names the variables', () => {
    const stack = new Stack(new App(), 'Consumer', { env: { region: 'eu-west-1', account: '111111111111' } });
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2 });
    const bus = RedisPubSubBus.fromRedisPubSubBusAttributes(stack, 'Bus', {
      securityGroupId: 'sg-0123456789abcdef0',
      endpointAddress: 'bus.example',
      port: 6390,
      authSecret: secretsmanager.Secret.fromSecretCompleteArn(stack, 'Token',
        'arn:aws:secretsmanager:eu-west-1:111111111111:secret:bus-token-AbCdEf'),
      isClusterMode: false,
    });
    const group = new ec2.SecurityGroup(stack, 'FnGroup', { vpc });
    const fn = lambda.Function.fromFunctionAttributes(stack, 'Existing', {
      functionArn: 'arn:aws:lambda:eu-west-1:111111111111:function:existing',
      role: new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') }),
      securityGroup: group,
      sameEnvironment: true,
    });
    bus.connectFunction(fn);
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::EC2::SecurityGroupIngress', { GroupId: 'sg-0123456789abcdef0', FromPort: 6390 });
    t.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^Role') }],
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'] })]) },
    });
    const warnings = stack.node.findChild('Existing').node.metadata.filter(m => m.type === 'aws:cdk:warning').map(m => String(m.data));
    expect(warnings).toEqual([expect.stringContaining(
      "Consumer/Bus: connectFunction(Consumer/Existing) opened the port and granted read of the token, but cannot set the environment of an imported function; set REALTIME_BUS_URL to the bus's url, REALTIME_BUS_CLUSTER to 'false'",
    )]);
  });

  test.each([
    ['neither group', {}, 'Test/Bus: securityGroupId \'undefined\' and securityGroup are both missing; give exactly one of securityGroupId and securityGroup'],
    ['both groups', { securityGroupId: 'sg-1', withGroup: true }, "Test/Bus: securityGroupId 'sg-1' is given together with securityGroup; give exactly one of securityGroupId and securityGroup"],
    ['a bad port', { securityGroupId: 'sg-1', port: 0 }, 'Test/Bus: port 0 is not a whole number from 1 to 65535; use a value from 1 to 65535'],
  ])('rejects %s', (_name, attrs: any, message) => {
    const stack = new Stack(new App(), 'Test', { env });
    const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2 });
    expect(() => RedisPubSubBus.fromRedisPubSubBusAttributes(stack, 'Bus', {
      securityGroupId: attrs.securityGroupId,
      securityGroup: attrs.withGroup ? new ec2.SecurityGroup(stack, 'Group', { vpc }) : undefined,
      endpointAddress: 'bus.example',
      port: attrs.port ?? 6390,
      authSecret: secretsmanager.Secret.fromSecretNameV2(stack, 'Token', 'bus-token'),
      isClusterMode: false,
    })).toThrow(message);
  });
});
