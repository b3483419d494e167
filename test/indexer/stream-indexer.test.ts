import { App, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import * as integrations from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import { nagFindings } from '../../examples/shared/nag';
import { CdnFrontDoor, FrontDoorSite, IndexFieldType, SearchTarget, StreamIndexer, StreamIndexerProps } from '../../src';
import { acknowledgedControls, controlFindings, controlReason } from '../support/controls';
import { onlyResource, stackWithVpc, synthError, testStack } from '../support/stacks';

const FIELDS = [
  { name: 'text', type: IndexFieldType.SEARCH_AS_YOU_TYPE },
  { name: 'room', type: IndexFieldType.KEYWORD, filterable: true },
  { name: 'username', type: IndexFieldType.KEYWORD },
  { name: 'time', type: IndexFieldType.DATE },
];

function messagesTable(stack: Stack, stream: dynamodb.StreamViewType | 'none' = dynamodb.StreamViewType.NEW_IMAGE, id = 'Messages'): dynamodb.Table {
  return new dynamodb.Table(stack, id, {
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    partitionKey: { name: 'room', type: dynamodb.AttributeType.STRING },
    sortKey: { name: 'message', type: dynamodb.AttributeType.STRING },
    stream: stream === 'none' ? undefined : stream,
  });
}

/** An indexer whose search route takes IAM-signed requests, unless `props` says otherwise. */
function build(props: Partial<StreamIndexerProps> = {}, withVpc = false) {
  const { stack, vpc } = withVpc ? stackWithVpc() : { stack: testStack(), vpc: undefined };
  const table = messagesTable(stack);
  const indexer = new StreamIndexer(stack, 'Search', {
    table, documentId: ['room', 'message'], fields: FIELDS, vpc, searchAuthorizer: new HttpIamAuthorizer(), ...props,
  });
  return { stack, vpc, table, indexer, t: Template.fromStack(stack) };
}

/** The statements of the IAM policies attached to the role whose logical id starts with `rolePrefix`. */
function roleStatements(t: Template, rolePrefix: string): any[] {
  return Object.values(t.findResources('AWS::IAM::Policy'))
    .filter(p => p.Properties.Roles.some((r: any) => r.Ref?.startsWith(rolePrefix)))
    .flatMap(p => p.Properties.PolicyDocument.Statement);
}

/** The security groups of the function whose description matches. */
function securityGroupsOf(t: Template, description: RegExp): unknown {
  const fns = Object.values(t.findResources('AWS::Lambda::Function')).filter(f => description.test(f.Properties.Description ?? ''));
  expect(fns).toHaveLength(1);
  return fns[0].Properties.VpcConfig.SecurityGroupIds;
}

function environmentOf(t: Template, description: RegExp): Record<string, any> {
  const fns = Object.values(t.findResources('AWS::Lambda::Function')).filter(f => description.test(f.Properties.Description ?? ''));
  expect(fns).toHaveLength(1);
  return fns[0].Properties.Environment.Variables;
}

describe('StreamIndexer on OpenSearch Serverless (default)', () => {
  test('a SEARCH collection with standby replicas, created after its encryption and network policies', () => {
    const { t } = build();
    const collection = onlyResource(t, 'AWS::OpenSearchServerless::Collection');
    expect(collection.props).toMatchObject({ Type: 'SEARCH', StandbyReplicas: 'ENABLED' });
    const policies = t.findResources('AWS::OpenSearchServerless::SecurityPolicy');
    expect(Object.values(policies).map(p => p.Properties.Type).sort()).toEqual(['encryption', 'network']);
    expect(collection.resource.DependsOn.sort()).toEqual(Object.keys(policies).sort());
    const encryption = Object.values(policies).find(p => p.Properties.Type === 'encryption')!;
    expect(JSON.parse(encryption.Properties.Policy)).toEqual({
      Rules: [{ ResourceType: 'collection', Resource: [`collection/${collection.props.Name}`] }],
      AWSOwnedKey: true,
    });
  });

  test('the data access policy names exactly the two functions\' roles, the indexer to write and search to read', () => {
    const { stack, t } = build();
    const policy = onlyResource(t, 'AWS::OpenSearchServerless::AccessPolicy');
    const document = JSON.parse(JSON.stringify(stack.resolve(policy.props.Policy)));
    const text = JSON.stringify(document);
    const roles = Object.keys(t.findResources('AWS::IAM::Role'));
    expect(roles.sort()).toEqual([expect.stringMatching(/^SearchIndexerRole/), expect.stringMatching(/^SearchSearchRole/)]);
    // Fn::Join of the policy text: each role ARN appears once, each with its own permissions.
    for (const role of roles) {
      expect(text.match(new RegExp(`"${role}","Arn"`, 'g'))).toHaveLength(1);
    }
    expect(text).toContain('aoss:WriteDocument');
    expect(text).toContain('aoss:CreateIndex');
    expect(text.indexOf('aoss:WriteDocument')).toBeLessThan(text.indexOf('SearchSearchRole'));
    expect(text).toContain('index/');
  });

  test('standby replicas off and a customer key are honoured', () => {
    const stack = testStack();
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    new StreamIndexer(stack, 'Search', {
      table: messagesTable(stack),
      documentId: ['room', 'message'],
      fields: FIELDS,
      target: SearchTarget.serverless({ standbyReplicas: false, encryptionKey: key, collectionName: 'chat-messages' }),
      searchAuthorizer: new HttpIamAuthorizer(),
    });
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::OpenSearchServerless::Collection', { Name: 'chat-messages', StandbyReplicas: 'DISABLED' });
    const encryption = Object.values(t.findResources('AWS::OpenSearchServerless::SecurityPolicy')).find(p => p.Properties.Type === 'encryption')!;
    expect(JSON.stringify(stack.resolve(encryption.Properties.Policy))).toContain('KmsARN');
  });

  test('without a VPC the collection answers IAM-signed requests on its public endpoint', () => {
    const { stack, t } = build();
    const network = Object.values(t.findResources('AWS::OpenSearchServerless::SecurityPolicy')).find(p => p.Properties.Type === 'network')!;
    expect(JSON.stringify(stack.resolve(network.Properties.Policy))).toContain('\\"AllowFromPublic\\":true');
    t.resourceCountIs('AWS::OpenSearchServerless::VpcEndpoint', 0);
  });

  test('with a VPC only the VPC endpoint reaches the collection, and only the functions reach the endpoint', () => {
    const { stack, t } = build({}, true);
    const endpoint = onlyResource(t, 'AWS::OpenSearchServerless::VpcEndpoint');
    const network = Object.values(t.findResources('AWS::OpenSearchServerless::SecurityPolicy')).find(p => p.Properties.Type === 'network')!;
    const policy = JSON.stringify(stack.resolve(network.Properties.Policy));
    expect(policy).toContain('\\"AllowFromPublic\\":false');
    expect(policy).toContain(endpoint.logicalId);
    const [endpointGroup] = endpoint.props.SecurityGroupIds;
    const ingress = t.findResources('AWS::EC2::SecurityGroupIngress', { Properties: { GroupId: endpointGroup } });
    expect(Object.values(ingress)).toHaveLength(1);
    const rule = Object.values(ingress)[0].Properties;
    expect(rule).toMatchObject({ FromPort: 443, ToPort: 443, IpProtocol: 'tcp' });
    for (const fn of Object.values(t.findResources('AWS::Lambda::Function'))) {
      expect(fn.Properties.VpcConfig.SecurityGroupIds).toEqual([rule.SourceSecurityGroupId]);
    }
  });

  test('the indexer reads the stream from the start in batches, bisects, retries a bounded number of times and then dead-letters', () => {
    const { t } = build();
    const mapping = onlyResource(t, 'AWS::Lambda::EventSourceMapping');
    expect(mapping.props).toMatchObject({
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: 100,
      MaximumBatchingWindowInSeconds: 1,
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 5,
      MaximumRecordAgeInSeconds: 86_400,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    const dlq = onlyResource(t, 'AWS::SQS::Queue');
    expect(mapping.props.DestinationConfig.OnFailure.Destination).toEqual({ 'Fn::GetAtt': [dlq.logicalId, 'Arn'] });
    expect(dlq.props.SqsManagedSseEnabled).toBe(true);
    // The dead-letter queue needs none of its own (Control Tower's CT.SQS.PR.1), with the reason beside it.
    expect(dlq.resource.Metadata.guard).toMatchObject({ SuppressedRules: ['sqs_dlq_check'], SuppressionReasons: { sqs_dlq_check: expect.stringMatching(/replayed from the table/) } });
    t.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  test('batch tuning props reach the event source', () => {
    const { t } = build({ batchSize: 500, retryAttempts: 2, maxRecordAge: Duration.hours(1), maxBatchingWindow: Duration.seconds(5) });
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 500, MaximumRetryAttempts: 2, MaximumRecordAgeInSeconds: 3600, MaximumBatchingWindowInSeconds: 5,
    });
  });

  test('alarms watch the dead-letter queue and the iterator age', () => {
    const { t } = build({ iteratorAgeAlarmThreshold: Duration.minutes(2) });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible', Namespace: 'AWS/SQS', Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'IteratorAge', Namespace: 'AWS/Lambda', Threshold: 120_000, Statistic: 'Maximum',
    });
  });

  test('the functions get the environment contract of the handlers', () => {
    const { t } = build({ maxSearchResults: 30, maxQueryLength: 100, indexName: 'messages' });
    const indexer = environmentOf(t, /^Indexes /);
    expect(indexer).toMatchObject({
      SEARCH_SERVICE: 'aoss',
      SEARCH_INDEX: 'messages',
      SEARCH_DOCUMENT_ID: '["room","message"]',
      SEARCH_FIELDS: JSON.stringify(FIELDS.map(f => ({ name: f.name, type: f.type }))),
      SEARCH_ENDPOINT: { 'Fn::GetAtt': [expect.stringMatching(/Collection/), 'CollectionEndpoint'] },
    });
    expect(indexer.SEARCH_READER_ROLE_ARN).toBeUndefined();
    expect(environmentOf(t, /^Prefix search /)).toMatchObject({
      SEARCH_SERVICE: 'aoss',
      SEARCH_INDEX: 'messages',
      SEARCH_QUERY_FIELDS: '[{"name":"text","type":"search_as_you_type"}]',
      SEARCH_FILTER_FIELDS: '["room"]',
      SEARCH_MAX_LIMIT: '30',
      SEARCH_MAX_QUERY_LENGTH: '100',
    });
  });

  test('both functions may call only their own collection', () => {
    const { t } = build();
    const collection = onlyResource(t, 'AWS::OpenSearchServerless::Collection');
    const statements = Object.values(t.findResources('AWS::IAM::Policy')).flatMap(p => p.Properties.PolicyDocument.Statement)
      .filter((s: any) => JSON.stringify(s.Action).includes('aoss:'));
    expect(statements).toHaveLength(2);
    for (const s of statements) {
      expect(s).toMatchObject({ Action: 'aoss:APIAccessAll', Resource: { 'Fn::GetAtt': [collection.logicalId, 'Arn'] } });
    }
  });

  test('GET /search on a new HTTP API with access logs and throttling, behind the given authorizer', () => {
    const { t } = build();
    t.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'GET /search', AuthorizationType: 'AWS_IAM' });
    t.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
      AccessLogSettings: { DestinationArn: Match.anyValue() },
    });
  });

  test('nag-clean with and without a VPC', () => {
    expect(nagFindings(build().stack)).toEqual([]);
    expect(nagFindings(build({}, true).stack)).toEqual([]);
  });

  test('alarms notify alarmTopic when they go into alarm and when they recover', () => {
    const stack = testStack();
    const topic = new sns.Topic(stack, 'Alarms', { enforceSSL: true });
    new StreamIndexer(stack, 'Search', {
      table: messagesTable(stack), documentId: ['room', 'message'], fields: FIELDS, searchAuthorizer: new HttpIamAuthorizer(), alarmTopic: topic,
    });
    const alarms = Object.values(Template.fromStack(stack).findResources('AWS::CloudWatch::Alarm'));
    expect(alarms.map(a => a.Properties.MetricName).sort()).toEqual(['ApproximateNumberOfMessagesVisible', 'IteratorAge']);
    const topicRef = { Ref: stack.getLogicalId(topic.node.defaultChild as sns.CfnTopic) };
    for (const alarm of alarms) {
      expect(alarm.Properties).toMatchObject({ AlarmActions: [topicRef], OKActions: [topicRef] });
    }
  });

  test('without alarmTopic the alarms have no actions', () => {
    for (const alarm of Object.values(build().t.findResources('AWS::CloudWatch::Alarm'))) {
      expect(alarm.Properties.AlarmActions).toBeUndefined();
      expect(alarm.Properties.OKActions).toBeUndefined();
    }
  });

  test('the functions\' and the API\'s logs are kept a year by default, or for logRetention', () => {
    const retention = (t: Template) => Object.values(t.findResources('AWS::Logs::LogGroup')).map(g => g.Properties.RetentionInDays);
    expect(retention(build().t)).toEqual([365, 365, 365]);
    expect(retention(build({ logRetention: logs.RetentionDays.ONE_WEEK }).t)).toEqual([7, 7, 7]);
  });

  test('logEncryptionKey encrypts the functions\' and the API\'s logs, and a key made in the app admits CloudWatch Logs', () => {
    const stack = testStack();
    const key = new kms.Key(stack, 'LogKey');
    new StreamIndexer(stack, 'Search', {
      table: messagesTable(stack), documentId: ['room', 'message'], fields: FIELDS, searchAuthorizer: new HttpIamAuthorizer(), logEncryptionKey: key,
    });
    const t = Template.fromStack(stack);
    const keyArn = stack.resolve(key.keyArn);
    expect(Object.entries(t.findResources('AWS::Logs::LogGroup')).map(([id, g]) => [id.replace(/[0-9A-F]{8}$/, ''), g.Properties.KmsKeyId]))
      .toEqual([['SearchIndexerLogs', keyArn], ['SearchSearchLogs', keyArn], ['SearchSearchApiAccessLogs', keyArn]]);
    const statements = onlyResource(t, 'AWS::KMS::Key').props.KeyPolicy.Statement;
    expect(statements.map((st: any) => st.Principal.Service)).toContain('logs.eu-west-1.amazonaws.com');
  });
});

describe('StreamIndexer under Control Tower\'s proactive controls', () => {
  test('in a VPC, with logEncryptionKey and alarmTopic, it leaves no unacknowledged finding', () => {
    const { stack, vpc } = stackWithVpc();
    const topic = new sns.Topic(stack, 'Alarms', { enforceSSL: true });
    new StreamIndexer(stack, 'Search', {
      table: messagesTable(stack),
      documentId: ['room', 'message'],
      fields: FIELDS,
      vpc,
      searchAuthorizer: new HttpIamAuthorizer(),
      logEncryptionKey: new kms.Key(stack, 'LogKey'),
      alarmTopic: topic,
    });
    expect(controlFindings(stack, 'Test/Search/')).toEqual([]);
    expect(acknowledgedControls(stack, 'Test/Search/')).toEqual({
      'Test/Search/DeadLetterQueue/Resource': ['sqs_dlq_check'],
      'Test/Search/SearchApi/GET--search/Search-Permission': ['lambda_function_public_access_prohibited_check'],
    });
    // cfn-guard's CT.LAMBDA.PR.2 accepts a SourceArn only as a literal or a Ref/GetAtt of a resource in the template.
    expect(stack.resolve((stack.node.findChild('Search').node.findChild('SearchApi').node.findChild('GET--search').node
      .findChild('Search-Permission') as lambda.CfnPermission).sourceArn)).toEqual({ 'Fn::Join': ['', expect.any(Array)] });
    expect(controlReason(stack, 'Test/Search/SearchApi/GET--search/Search-Permission', 'lambda_function_public_access_prohibited_check'))
      .toMatch(/^API Gateway may invoke this function only for this API's route or authorizer, which SourceArn names/);
  });

  test('a route the indexer did not add keeps its finding: only the search route\'s permission is acknowledged', () => {
    const stack = testStack();
    const searchApi = new apigwv2.HttpApi(stack, 'Api', { createDefaultStage: false });
    const indexer = new StreamIndexer(stack, 'Search', {
      table: messagesTable(stack), documentId: ['room', 'message'], fields: FIELDS, searchApi, searchAuthorizer: new HttpIamAuthorizer(),
    });
    searchApi.addRoutes({ path: '/other', methods: [apigwv2.HttpMethod.GET], integration: new integrations.HttpLambdaIntegration('Other', indexer.searchFunction) });
    expect(Object.keys(acknowledgedControls(stack, 'Test/Api/'))).toEqual(['Test/Api/GET--search/Search-Permission']);
  });
});

describe('who may search', () => {
  test('without searchAuthorizer or publicSearch synthesis fails: the route would hand whole documents to anyone', () => {
    expect(() => build({ searchAuthorizer: undefined })).toThrow(
      'Test/Search: searchAuthorizer undefined leaves GET /search open to anyone, and it answers with whole documents; '
      + 'give searchAuthorizer (e.g. a CdnFrontDoor\'s originCheckAuthorizer(), or an IAM or JWT authorizer), or set publicSearch: true if every indexed field may be public');
  });

  test('an authorizer that authorizes nothing counts as none', () => {
    expect(() => build({ searchAuthorizer: new apigwv2.HttpNoneAuthorizer() })).toThrow(/searchAuthorizer 'HttpNoneAuthorizer' leaves GET \/search open to anyone/);
  });

  test('publicSearch: true opens the route, and only then is the APIG4 finding acknowledged', () => {
    const acknowledged = (indexer: StreamIndexer) => JSON.stringify(indexer.searchApi.node.findChild('GET--search').node.defaultChild!.node.metadata
      .filter(m => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY));
    const open = build({ searchAuthorizer: undefined, publicSearch: true });
    expect(onlyResource(open.t, 'AWS::ApiGatewayV2::Route').props).toMatchObject({ RouteKey: 'GET /search', AuthorizationType: 'NONE' });
    expect(nagFindings(open.stack)).toEqual([]);
    expect(acknowledged(open.indexer)).toContain('AwsSolutions-APIG4');
    expect(acknowledged(build().indexer)).not.toContain('APIG4');
  });

  test('searchAuthorizer and publicSearch together are an error', () => {
    expect(() => build({ publicSearch: true })).toThrow(
      'Test/Search: publicSearch true contradicts searchAuthorizer, which restricts GET /search; give searchAuthorizer to restrict search, or publicSearch: true to open it to anyone, not both');
  });

  test('a searchApi with a default authorizer guards the route without searchAuthorizer', () => {
    const withDefaultAuthorizer = (publicSearch?: boolean) => {
      const stack = testStack();
      const searchApi = new apigwv2.HttpApi(stack, 'Api', { defaultAuthorizer: new HttpIamAuthorizer() });
      new StreamIndexer(stack, 'Search', { table: messagesTable(stack), documentId: ['room', 'message'], fields: FIELDS, searchApi, publicSearch });
      return Template.fromStack(stack);
    };
    withDefaultAuthorizer().hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'GET /search', AuthorizationType: 'AWS_IAM' });
    expect(() => withDefaultAuthorizer(true)).toThrow(
      /Test\/Search: publicSearch true contradicts the default authorizer of searchApi, which guards GET \/search \(AWS_IAM\)/);
  });
});

describe('StreamIndexer on a managed domain', () => {
  const domainBuild = (dataNodes?: number) => build({ target: SearchTarget.domain({ dataNodes }) }, true);

  test('encrypted, node-to-node TLS, HTTPS with TLS 1.2, fine-grained access control, in the VPC', () => {
    const { t } = domainBuild();
    const domain = onlyResource(t, 'AWS::OpenSearchService::Domain');
    expect(domain.props).toMatchObject({
      EncryptionAtRestOptions: { Enabled: true },
      NodeToNodeEncryptionOptions: { Enabled: true },
      DomainEndpointOptions: { EnforceHTTPS: true, TLSSecurityPolicy: 'Policy-Min-TLS-1-2-2019-07' },
      AdvancedSecurityOptions: { Enabled: true, InternalUserDatabaseEnabled: false },
      ClusterConfig: { InstanceCount: 2, InstanceType: 't3.small.search', ZoneAwarenessEnabled: true, ZoneAwarenessConfig: { AvailabilityZoneCount: 2 } },
      VPCOptions: { SubnetIds: [expect.anything(), expect.anything()] },
    });
  });

  test('the master user is the security bootstrap\'s role, not the indexer\'s', () => {
    const { t } = domainBuild();
    const domain = onlyResource(t, 'AWS::OpenSearchService::Domain');
    expect(domain.props.AdvancedSecurityOptions.MasterUserOptions).toEqual({
      MasterUserARN: { 'Fn::GetAtt': [expect.stringMatching(/^SearchDomainSecurityBootstrapRole/), 'Arn'] },
    });
    expect(JSON.stringify(domain.props.AdvancedSecurityOptions)).not.toContain('SearchIndexerRole');
  });

  test('the access policy admits each role for exactly the calls it makes; the indexer never reaches the security API', () => {
    const { stack, t } = domainBuild();
    const domain = onlyResource(t, 'AWS::OpenSearchService::Domain');
    const statements: any[] = stack.resolve(domain.props.AccessPolicies).Statement;
    const byRole = (prefix: string) => statements.filter(s => JSON.stringify(s.Principal).includes(`"${prefix}`));
    const paths = (list: any[]) => list.flatMap(s => ([] as any[]).concat(s.Resource).map(r => `${s.Action} ${JSON.stringify(r).replace(/.*domain\/[a-z0-9-]+\//, '').replace(/"\]\]\}$/, '')}`)).sort();
    expect(statements.every(s => s.Effect === 'Allow')).toBe(true);
    expect(paths(byRole('SearchIndexerRole'))).toEqual(['es:ESHttpPost search-index/_bulk', 'es:ESHttpPut search-index']);
    expect(paths(byRole('SearchSearchRole'))).toEqual(['es:ESHttpPost search-index/_search']);
    expect(paths(byRole('SearchDomainSecurityBootstrapRole'))).toEqual([
      'es:ESHttpPut _plugins/_security/api/roles/search-index-reader',
      'es:ESHttpPut _plugins/_security/api/roles/search-index-writer',
      'es:ESHttpPut _plugins/_security/api/rolesmapping/search-index-reader',
      'es:ESHttpPut _plugins/_security/api/rolesmapping/search-index-writer',
    ]);
    expect(byRole('SearchIndexerRole').length + byRole('SearchSearchRole').length + byRole('SearchDomainSecurityBootstrapRole').length).toBe(statements.length);
    expect(JSON.stringify(byRole('SearchIndexerRole'))).not.toContain('_plugins');
    expect(JSON.stringify(statements)).not.toMatch(/\/\*"|es:\*|ESHttp\*/);
  });

  test('each role\'s IAM policy names the same calls; the indexer\'s has no _plugins/_security access and no wildcard on the domain', () => {
    const { t } = domainBuild();
    const domainCalls = (prefix: string) => roleStatements(t, prefix).filter(s => JSON.stringify(s.Action).includes('es:'));
    const indexer = domainCalls('SearchIndexerRole');
    expect(indexer.map(s => s.Action).sort()).toEqual(['es:ESHttpPost', 'es:ESHttpPut']);
    expect(JSON.stringify(indexer)).not.toContain('_plugins');
    expect(JSON.stringify(indexer)).not.toMatch(/\/\*"/);
    expect(JSON.stringify(indexer)).toContain('/search-index/_bulk');
    expect(domainCalls('SearchSearchRole')).toEqual([expect.objectContaining({ Action: 'es:ESHttpPost' })]);
    expect(JSON.stringify(domainCalls('SearchSearchRole'))).toContain('/search-index/_search');
    const bootstrap = domainCalls('SearchDomainSecurityBootstrapRole');
    expect(bootstrap).toEqual([expect.objectContaining({ Action: 'es:ESHttpPut' })]);
    expect(bootstrap[0].Resource).toHaveLength(4);
    expect(JSON.stringify(bootstrap)).not.toContain('/search-index/_bulk');
  });

  test('a custom resource, answered by the bootstrap function itself, maps the two functions\' roles', () => {
    const { t } = domainBuild();
    const roles = onlyResource(t, 'Custom::OpenSearchSecurityRoles');
    const bootstrap = Object.entries(t.findResources('AWS::Lambda::Function')).find(([id]) => id.startsWith('SearchDomainSecurityBootstrap'))!;
    expect(roles.props).toEqual({
      ServiceToken: { 'Fn::GetAtt': [bootstrap[0], 'Arn'] },
      ServiceTimeout: '600',
      Endpoint: { 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [expect.stringMatching(/^SearchDomain/), 'DomainEndpoint'] }]] },
      Index: 'search-index',
      WriterRoleArn: { 'Fn::GetAtt': [expect.stringMatching(/^SearchIndexerRole/), 'Arn'] },
      ReaderRoleArn: { 'Fn::GetAtt': [expect.stringMatching(/^SearchSearchRole/), 'Arn'] },
    });
    // In the VPC, in the group the domain admits, under the master-user role.
    const fn = bootstrap[1].Properties;
    expect(fn.Role).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^SearchDomainSecurityBootstrapRole/), 'Arn'] });
    expect(fn.VpcConfig.SecurityGroupIds).toEqual(securityGroupsOf(t, /^Prefix search /));
    expect(fn.Handler).toBe('index.handler');
  });

  test('no provider framework or other custom-resource Lambdas: three functions in all', () => {
    const { t } = domainBuild();
    t.resourceCountIs('AWS::Logs::ResourcePolicy', 1);
    expect(Object.keys(t.findResources('Custom::OpenSearchAccessPolicy'))).toEqual([]);
    expect(Object.keys(t.findResources('Custom::CloudwatchLogResourcePolicy'))).toEqual([]);
    expect(Object.keys(t.findResources('AWS::Lambda::Function')).map(id => id.replace(/[A-F0-9]{8}$/, '')).sort())
      .toEqual(['Search', 'SearchDomainSecurityBootstrap', 'SearchIndexer']);
  });

  test('the indexer reads the stream only once the roles are mapped, and takes no security settings', () => {
    const { t } = domainBuild();
    const roles = onlyResource(t, 'Custom::OpenSearchSecurityRoles');
    expect(onlyResource(t, 'AWS::Lambda::EventSourceMapping').resource.DependsOn).toContain(roles.logicalId);
    const env = environmentOf(t, /^Indexes /);
    expect(env).toMatchObject({ SEARCH_SERVICE: 'es' });
    expect(env.SEARCH_READER_ROLE_ARN).toBeUndefined();
  });

  test('logRetention and logEncryptionKey apply to the bootstrap\'s and the domain\'s log groups too', () => {
    const { stack, vpc } = stackWithVpc();
    const key = new kms.Key(stack, 'LogKey');
    new StreamIndexer(stack, 'Search', {
      table: messagesTable(stack),
      documentId: ['room', 'message'],
      fields: FIELDS,
      vpc,
      searchAuthorizer: new HttpIamAuthorizer(),
      target: SearchTarget.domain(),
      logRetention: logs.RetentionDays.TWO_WEEKS,
      logEncryptionKey: key,
    });
    const t = Template.fromStack(stack);
    const groups = Object.entries(t.findResources('AWS::Logs::LogGroup')).filter(([id]) => id.startsWith('Search')).map(([, g]) => g);
    expect(groups).toHaveLength(8); // indexer, search, API, bootstrap; slow search, slow index, application, audit
    expect(groups.map(g => [g.Properties.RetentionInDays, g.Properties.KmsKeyId])).toEqual(Array(8).fill([14, stack.resolve(key.keyArn)]));
    // Two weeks is the user's choice (CT.CLOUDWATCH.PR.2 would want a year); the key satisfies CT.CLOUDWATCH.PR.3 on all eight.
    expect(controlFindings(stack, 'Test/Search/').filter(f => f.includes('CLOUDWATCH.PR.3'))).toEqual([]);
  });

  test('the domain\'s own log groups are kept a year by default too', () => {
    const groups = Object.entries(domainBuild().t.findResources('AWS::Logs::LogGroup')).filter(([id]) => id.startsWith('Search')).map(([, g]) => g);
    expect(groups.map(g => g.Properties.RetentionInDays)).toEqual(Array(8).fill(365));
  });

  test('isolated subnets without an S3 endpoint get a warning: the bootstrap could not answer CloudFormation', () => {
    const warnings = (withEndpoint: boolean) => {
      const { stack, vpc } = stackWithVpc();
      if (withEndpoint) {
        vpc.addGatewayEndpoint('S3', { service: ec2.GatewayVpcEndpointAwsService.S3 });
      }
      new StreamIndexer(stack, 'Search', {
        table: messagesTable(stack),
        documentId: ['room', 'message'],
        fields: FIELDS,
        vpc,
        vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
        publicSearch: true,
        target: SearchTarget.domain(),
      });
      return Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('security bootstrap runs in isolated subnets'));
    };
    expect(warnings(false)).toHaveLength(1);
    expect(warnings(true)).toEqual([]);
    expect(Annotations.fromStack(domainBuild().stack).findWarning('*', Match.stringLikeRegexp('security bootstrap'))).toEqual([]);
  });

  test('one data node turns zone awareness off', () => {
    const { t } = domainBuild(1);
    t.hasResourceProperties('AWS::OpenSearchService::Domain', { ClusterConfig: { InstanceCount: 1, ZoneAwarenessEnabled: false } });
  });

  // AWS refuses zone awareness over two zones with an odd number of data nodes: "Zone awareness requires
  // an even number of instances" (https://docs.aws.amazon.com/elasticsearch-service/latest/developerguide/es-managedomains.html#es-managedomains-zoneawareness);
  // CreateDomain answers "You must choose an even number of data nodes for a two Availability Zone deployment".
  test('an odd number of data nodes over two zones fails synthesis with the fix', () => {
    expect(() => domainBuild(3)).toThrow(
      'Test/Search: target dataNodes 3 is not even, which zone awareness over two Availability Zones requires (AWS refuses the domain), '
      + 'three Availability Zones would take 3, but vpcSubnets selects subnets in 2; use an even number, a multiple of three with subnets in three Availability Zones, or 1');
    expect(() => domainBuild(5)).toThrow(/target dataNodes 5 is not even, .* nor a multiple of three for three Availability Zones; use an even number/);
  });

  test('even counts spread over two zones', () => {
    const domain = onlyResource(domainBuild(4).t, 'AWS::OpenSearchService::Domain').props;
    expect(domain.ClusterConfig).toMatchObject({ InstanceCount: 4, ZoneAwarenessEnabled: true, ZoneAwarenessConfig: { AvailabilityZoneCount: 2 } });
    expect(domain.VPCOptions.SubnetIds).toHaveLength(2);
  });

  test('multiples of three spread over three zones when the subnets span three', () => {
    const threeZones = (dataNodes: number) => {
      const stack = new Stack(new App(), 'Test', { env: { account: '123456789012', region: 'eu-west-1' } });
      const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 3 });
      new StreamIndexer(stack, 'Search', {
        table: messagesTable(stack), documentId: ['room', 'message'], fields: FIELDS, vpc, publicSearch: true, target: SearchTarget.domain({ dataNodes }),
      });
      return onlyResource(Template.fromStack(stack), 'AWS::OpenSearchService::Domain').props;
    };
    for (const dataNodes of [3, 6]) {
      const domain = threeZones(dataNodes);
      expect(domain.ClusterConfig).toMatchObject({
        InstanceCount: dataNodes, ZoneAwarenessEnabled: true, ZoneAwarenessConfig: { AvailabilityZoneCount: 3 },
      });
      expect(domain.VPCOptions.SubnetIds).toHaveLength(3);
    }
    expect(threeZones(4).ClusterConfig.ZoneAwarenessConfig).toEqual({ AvailabilityZoneCount: 2 });
  });

  test('nag-clean', () => {
    expect(nagFindings(domainBuild().stack)).toEqual([]);
  });
});

describe('StreamIndexer behind a CdnFrontDoor', () => {
  function frontDoorStack(access: 'authorizer' | 'public' | 'none') {
    const { stack, vpc } = stackWithVpc();
    const searchApi = new apigwv2.HttpApi(stack, 'Api');
    const frontDoor = new CdnFrontDoor(stack, 'FrontDoor', {
      site: FrontDoorSite.fromDirectory(`${__dirname}/../../integ/front-door-site`),
      api: [{ pathPattern: '/search*', httpApi: searchApi }],
    });
    new StreamIndexer(stack, 'Search', {
      table: messagesTable(stack),
      documentId: ['room', 'message'],
      fields: FIELDS,
      vpc,
      searchApi,
      searchAuthorizer: access === 'authorizer' ? frontDoor.originCheckAuthorizer() : undefined,
      publicSearch: access === 'public' ? true : undefined,
    });
    return stack;
  }

  test('the search route takes the front door\'s origin check', () => {
    const t = Template.fromStack(frontDoorStack('authorizer'));
    t.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'GET /search', AuthorizationType: 'CUSTOM' });
  });

  test('made public instead, the front door refuses to synthesize: the API\'s own endpoint would bypass it', () => {
    expect(synthError(frontDoorStack('public'))).toMatch(/route 'GET \/search' of .* answers on the API's own endpoint/);
  });

  test('with neither, the indexer refuses first', () => {
    expect(() => frontDoorStack('none')).toThrow(/Search: searchAuthorizer undefined leaves GET \/search open to anyone/);
  });
});

describe('StreamIndexer validation', () => {
  const cases: Array<[string, (stack: Stack) => Partial<StreamIndexerProps>, RegExp]> = [
    ['a table without a stream', s => ({ table: messagesTable(s, 'none', 'Other') }), /Search: table 'Test\/Other' has no stream; create the table with stream/],
    ['a keys-only stream', s => ({ table: messagesTable(s, dynamodb.StreamViewType.KEYS_ONLY, 'Other') }), /table stream 'KEYS_ONLY' carries no new images/],
    ['no document id', () => ({ documentId: [] }), /documentId '\[\]' is empty/],
    ['a document id that is not a key', () => ({ documentId: ['room', 'text'] }), /documentId 'text' is not a key attribute of the table \(room, message\)/],
    ['no fields', () => ({ fields: [] }), /fields '\[\]' is empty/],
    ['a field listed twice', () => ({ fields: [...FIELDS, FIELDS[0]] }), /fields name 'text' is listed twice/],
    ['a bad field name', () => ({ fields: [{ name: 'a.b', type: IndexFieldType.TEXT }] }), /fields name 'a.b' is not a plain field name/],
    ['a searchable keyword', () => ({ fields: [...FIELDS, { name: 'tag', type: IndexFieldType.KEYWORD, searchable: true }] }), /fields tag searchable true cannot apply to a keyword field/],
    ['a filterable text', () => ({ fields: [{ name: 'body', type: IndexFieldType.TEXT, filterable: true }] }), /fields body filterable true cannot apply to a text field/],
    ['a filter named like a parameter', () => ({ fields: [...FIELDS, { name: 'limit', type: IndexFieldType.KEYWORD, filterable: true }] }), /fields name 'limit' would clash/],
    ['nothing searchable', () => ({ fields: [{ name: 'room', type: IndexFieldType.KEYWORD }] }), /fields 'room' has no searchable field/],
    ['a bad index name', () => ({ indexName: 'Chat Messages' }), /indexName 'Chat Messages' is not an index name/],
    ['a batch of 0', () => ({ batchSize: 0 }), /batchSize 0 is not a whole number from 1 to 10000/],
    ['negative retries', () => ({ retryAttempts: -1 }), /retryAttempts -1 is not a whole number from 0 to 10000/],
    ['a record age under a minute', () => ({ maxRecordAge: Duration.seconds(30) }), /maxRecordAge 30s is below/],
    ['too many results', () => ({ maxSearchResults: 101 }), /maxSearchResults 101 is not a whole number from 1 to 100/],
    ['a bad collection name', () => ({ target: SearchTarget.serverless({ collectionName: 'Chat' }) }), /target collectionName 'Chat' is not a collection name/],
    ['a domain without a VPC', () => ({ target: SearchTarget.domain() }), /target 'SearchTarget.domain\(\)' puts the domain in a VPC, but vpc is not set/],
  ];
  test.each(cases)('%s fails synthesis with the prop and the fix', (_name, override, message) => {
    const stack = testStack();
    const table = messagesTable(stack);
    expect(() => new StreamIndexer(stack, 'Search', { table, documentId: ['room', 'message'], fields: FIELDS, publicSearch: true, ...override(stack) }))
      .toThrow(message);
  });
});
