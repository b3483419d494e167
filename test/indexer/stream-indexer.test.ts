import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kms from 'aws-cdk-lib/aws-kms';
import { nagFindings } from '../../examples/shared/nag';
import { CdnFrontDoor, FrontDoorSite, IndexFieldType, SearchTarget, StreamIndexer, StreamIndexerProps } from '../../src';
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

function build(props: Partial<StreamIndexerProps> = {}, withVpc = false) {
  const { stack, vpc } = withVpc ? stackWithVpc() : { stack: testStack(), vpc: undefined };
  const table = messagesTable(stack);
  const indexer = new StreamIndexer(stack, 'Search', { table, documentId: ['room', 'message'], fields: FIELDS, vpc, ...props });
  return { stack, vpc, table, indexer, t: Template.fromStack(stack) };
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

  test('GET /search on a new HTTP API with access logs and throttling, public unless an authorizer is given', () => {
    const { t } = build();
    t.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'GET /search', AuthorizationType: 'NONE' });
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
});

describe('StreamIndexer on a managed domain', () => {
  const domainBuild = (dataNodes?: number) => build({ target: SearchTarget.domain({ dataNodes }) }, true);

  test('encrypted, node-to-node TLS, HTTPS with TLS 1.2, fine-grained access with the indexer as master, in the VPC', () => {
    const { t } = domainBuild();
    const domain = onlyResource(t, 'AWS::OpenSearchService::Domain');
    expect(domain.props).toMatchObject({
      EncryptionAtRestOptions: { Enabled: true },
      NodeToNodeEncryptionOptions: { Enabled: true },
      DomainEndpointOptions: { EnforceHTTPS: true, TLSSecurityPolicy: 'Policy-Min-TLS-1-2-2019-07' },
      AdvancedSecurityOptions: { Enabled: true, InternalUserDatabaseEnabled: false, MasterUserOptions: { MasterUserARN: { 'Fn::GetAtt': [expect.stringMatching(/^SearchIndexerRole/), 'Arn'] } } },
      ClusterConfig: { InstanceCount: 2, InstanceType: 't3.small.search', ZoneAwarenessEnabled: true, ZoneAwarenessConfig: { AvailabilityZoneCount: 2 } },
      VPCOptions: { SubnetIds: [expect.anything(), expect.anything()] },
    });
    expect(JSON.stringify(domain.props.AccessPolicies)).toContain('SearchSearchRole');
    expect(JSON.stringify(domain.props.AccessPolicies)).toContain('SearchIndexerRole');
  });

  test('no custom-resource Lambdas for the access and log policies', () => {
    const { t } = domainBuild();
    t.resourceCountIs('AWS::Logs::ResourcePolicy', 1);
    expect(Object.keys(t.findResources('Custom::OpenSearchAccessPolicy'))).toEqual([]);
    expect(Object.keys(t.findResources('Custom::CloudwatchLogResourcePolicy'))).toEqual([]);
    t.resourceCountIs('AWS::Lambda::Function', 2);
  });

  test('the indexer signs for es and maps the search role to a reader', () => {
    const { t } = domainBuild();
    expect(environmentOf(t, /^Indexes /)).toMatchObject({
      SEARCH_SERVICE: 'es',
      SEARCH_READER_ROLE_ARN: { 'Fn::GetAtt': [expect.stringMatching(/^SearchSearchRole/), 'Arn'] },
    });
  });

  test('one data node turns zone awareness off', () => {
    const { t } = domainBuild(1);
    t.hasResourceProperties('AWS::OpenSearchService::Domain', { ClusterConfig: { InstanceCount: 1, ZoneAwarenessEnabled: false } });
  });

  test('nag-clean', () => {
    expect(nagFindings(domainBuild().stack)).toEqual([]);
  });
});

describe('StreamIndexer behind a CdnFrontDoor', () => {
  function frontDoorStack(withAuthorizer: boolean) {
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
      searchAuthorizer: withAuthorizer ? frontDoor.originCheckAuthorizer() : undefined,
    });
    return stack;
  }

  test('the search route takes the front door\'s origin check', () => {
    const t = Template.fromStack(frontDoorStack(true));
    t.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'GET /search', AuthorizationType: 'CUSTOM' });
  });

  test('without it the front door refuses to synthesize', () => {
    expect(synthError(frontDoorStack(false))).toMatch(/route 'GET \/search' of .* answers on the API's own endpoint/);
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
    expect(() => new StreamIndexer(stack, 'Search', { table, documentId: ['room', 'message'], fields: FIELDS, ...override(stack) })).toThrow(message);
  });
});
