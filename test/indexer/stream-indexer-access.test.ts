import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { nagFindings } from '../../examples/shared/nag';
import { IndexFieldType, SearchTarget, StreamIndexer, StreamIndexerProps } from '../../src';
import { onlyResource, stackWithVpc, testStack } from '../support/stacks';

// Grants, metrics, removal policies and imported APIs of StreamIndexer.

const FIELDS = [
  { name: 'text', type: IndexFieldType.SEARCH_AS_YOU_TYPE },
  { name: 'room', type: IndexFieldType.KEYWORD, filterable: true },
];

function messagesTable(scope: Construct): dynamodb.Table {
  return new dynamodb.Table(scope, 'Messages', {
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    partitionKey: { name: 'room', type: dynamodb.AttributeType.STRING },
    sortKey: { name: 'message', type: dynamodb.AttributeType.STRING },
    stream: dynamodb.StreamViewType.NEW_IMAGE,
  });
}

function indexerIn(stack: Stack, props: Partial<StreamIndexerProps> = {}, id = 'Search'): StreamIndexer {
  return new StreamIndexer(stack, id, {
    table: messagesTable(stack), documentId: ['room', 'message'], fields: FIELDS, searchAuthorizer: new HttpIamAuthorizer(), ...props,
  });
}

function readerRole(scope: Construct, id = 'Dashboard'): iam.Role {
  return new iam.Role(scope, id, { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') });
}

/** The statements of the IAM policies attached to the role whose logical id starts with `rolePrefix`. */
function roleStatements(t: Template, rolePrefix: string): any[] {
  return Object.values(t.findResources('AWS::IAM::Policy'))
    .filter(p => p.Properties.Roles.some((r: any) => r.Ref?.startsWith(rolePrefix)))
    .flatMap(p => p.Properties.PolicyDocument.Statement);
}

/** The entries of a data access policy, parsed. */
function accessEntries(stack: Stack, policy: any): any[] {
  const resolved = stack.resolve(policy.Properties.Policy);
  // Fn::Join of the JSON text with role ARNs in it: replace each token by a readable marker.
  const text = typeof resolved === 'string' ? resolved
    : resolved['Fn::Join'][1].map((part: any) => typeof part === 'string' ? part : `<${part['Fn::GetAtt']?.[0] ?? JSON.stringify(part)}>`).join('');
  return JSON.parse(text);
}

describe('grantSearch on a serverless collection', () => {
  test('a role of the same stack gets aoss:APIAccessAll on the collection and a read-only rule in its data access policy', () => {
    const stack = testStack();
    const indexer = indexerIn(stack);
    const role = readerRole(stack);
    const grant = indexer.grantSearch(role);
    expect(grant.success).toBe(true);

    const t = Template.fromStack(stack);
    const collection = onlyResource(t, 'AWS::OpenSearchServerless::Collection');
    expect(roleStatements(t, 'Dashboard')).toEqual([{
      Effect: 'Allow', Action: 'aoss:APIAccessAll', Resource: { 'Fn::GetAtt': [collection.logicalId, 'Arn'] },
    }]);
    const entries = accessEntries(stack, Object.values(t.findResources('AWS::OpenSearchServerless::AccessPolicy'))[0]);
    const granted = entries.filter(e => e.Principal.some((p: string) => p.startsWith('<Dashboard')));
    expect(granted).toEqual([{
      Description: 'Principals given to grantSearch read documents',
      Rules: [{ ResourceType: 'index', Resource: [`index/${collection.props.Name}/search-index`], Permission: ['aoss:DescribeIndex', 'aoss:ReadDocument'] }],
      Principal: [expect.stringMatching(/^<Dashboard/)],
    }]);
    // The functions' own entries are unchanged: the indexer writes, the search function reads.
    expect(entries.map(e => e.Description)).toEqual([
      'The indexer creates the index and writes documents',
      'The search function reads documents',
      'Principals given to grantSearch read documents',
    ]);
  });

  test('a function is granted through its role', () => {
    const stack = testStack();
    const indexer = indexerIn(stack);
    const fn = new lambda.Function(stack, 'Reports', {
      runtime: lambda.Runtime.NODEJS_22_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler = async () => {}'),
    });
    indexer.grantSearch(fn);
    const t = Template.fromStack(stack);
    expect(roleStatements(t, 'ReportsServiceRole')).toContainEqual(expect.objectContaining({ Action: 'aoss:APIAccessAll' }));
    const entries = accessEntries(stack, Object.values(t.findResources('AWS::OpenSearchServerless::AccessPolicy'))[0]);
    expect(entries[2].Principal).toEqual([expect.stringMatching(/^<ReportsServiceRole/)]);
  });

  test('a role of another stack gets a data access policy in its own stack, so only that stack depends on the indexer\'s', () => {
    const app = new App();
    const searchStack = new Stack(app, 'SearchStack', { env: { region: 'eu-west-1' } });
    const appStack = new Stack(app, 'AppStack', { env: { region: 'eu-west-1' } });
    const indexer = indexerIn(searchStack, { target: SearchTarget.serverless({ collectionName: 'chat-messages' }) });
    indexer.grantSearch(readerRole(appStack));

    // Synthesizes: no dependency cycle between the two stacks.
    const assembly = app.synth();
    expect(appStack.dependencies.map(s => s.stackName)).toEqual(['SearchStack']);
    expect(searchStack.dependencies).toEqual([]);
    expect(assembly.getStackByName('SearchStack').template).toBeDefined();

    const searchTemplate = Template.fromStack(searchStack);
    const own = accessEntries(searchStack, onlyResource(searchTemplate, 'AWS::OpenSearchServerless::AccessPolicy').resource);
    expect(own).toHaveLength(2);

    const appTemplate = Template.fromStack(appStack);
    const policy = onlyResource(appTemplate, 'AWS::OpenSearchServerless::AccessPolicy');
    expect(policy.props).toMatchObject({ Type: 'data', Name: expect.stringMatching(/^[a-z][a-z0-9-]{2,31}$/) });
    expect(accessEntries(appStack, policy.resource)).toEqual([{
      Description: 'AppStack/Dashboard reads documents',
      Rules: [{ ResourceType: 'index', Resource: ['index/chat-messages/search-index'], Permission: ['aoss:DescribeIndex', 'aoss:ReadDocument'] }],
      Principal: [expect.stringMatching(/^<Dashboard/)],
    }]);
    expect(roleStatements(appTemplate, 'Dashboard')).toEqual([expect.objectContaining({
      Action: 'aoss:APIAccessAll', Resource: { 'Fn::ImportValue': expect.stringContaining('SearchStack') },
    })]);
  });

  test('nag-clean, granted to a reader', () => {
    const stack = testStack();
    indexerIn(stack).grantSearch(readerRole(stack));
    expect(nagFindings(stack)).toEqual([]);
  });

  test('a service principal cannot be named in a data access policy', () => {
    const stack = testStack();
    const indexer = indexerIn(stack);
    expect(() => indexer.grantSearch(new iam.ServicePrincipal('ecs-tasks.amazonaws.com')))
      .toThrow(/^Test\/Search: grantSearch grantee .* is not an IAM role or user, and OpenSearch Serverless data access policies name only those; grant to a role/);
  });
});

describe('grantSearch on a managed domain', () => {
  function domainStack() {
    const { stack, vpc } = stackWithVpc();
    const indexer = indexerIn(stack, { vpc, target: SearchTarget.domain() });
    return { stack, vpc, indexer };
  }

  test('nag-clean, granted to a reader', () => {
    const { stack, indexer } = domainStack();
    indexer.grantSearch(readerRole(stack));
    expect(nagFindings(stack)).toEqual([]);
  });

  test('the role\'s IAM policy and the domain\'s access policy name the same read calls on the index, and nothing else', () => {
    const { stack, indexer } = domainStack();
    const role = readerRole(stack);
    expect(indexer.grantSearch(role).success).toBe(true);
    const t = Template.fromStack(stack);
    const domain = onlyResource(t, 'AWS::OpenSearchService::Domain');
    const calls = (statements: any[]) => statements
      .flatMap(s => ([] as any[]).concat(s.Resource).map(r => `${s.Action} ${JSON.stringify(r).replace(/.*domain\/[a-z0-9-]+\/|.*"\/(?=search-index)/, '').replace(/"\]\]\}$/, '')}`))
      .sort();
    const expected = [
      'es:ESHttpGet search-index/_count',
      'es:ESHttpGet search-index/_search',
      'es:ESHttpPost search-index/_count',
      'es:ESHttpPost search-index/_search',
    ];
    expect(calls(roleStatements(t, 'Dashboard'))).toEqual(expected);
    const statements: any[] = stack.resolve(domain.props.AccessPolicies).Statement;
    const admitted = statements.filter(s => JSON.stringify(s.Principal).includes('"Dashboard'));
    expect(calls(admitted)).toEqual(expected);
    // The domain's IAM side names the domain itself, not a wildcard.
    expect(JSON.stringify(roleStatements(t, 'Dashboard'))).toContain(domain.logicalId);
  });

  test('the security bootstrap maps the role to the read-only role', () => {
    const { stack, indexer } = domainStack();
    indexer.grantSearch(readerRole(stack));
    indexer.grantSearch(readerRole(stack, 'Reports'));
    const t = Template.fromStack(stack);
    const roles = onlyResource(t, 'Custom::OpenSearchSecurityRoles');
    expect(roles.props.ExtraReaderRoleArns).toEqual([
      { 'Fn::GetAtt': [expect.stringMatching(/^Dashboard/), 'Arn'] },
      { 'Fn::GetAtt': [expect.stringMatching(/^Reports/), 'Arn'] },
    ]);
    expect(roles.props.ReaderRoleArn).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^SearchSearchRole/), 'Arn'] });
  });

  test('granting the same role twice maps it once', () => {
    const { stack, indexer } = domainStack();
    const role = readerRole(stack);
    indexer.grantSearch(role);
    indexer.grantSearch(role);
    const roles = onlyResource(Template.fromStack(stack), 'Custom::OpenSearchSecurityRoles');
    expect(roles.props.ExtraReaderRoleArns).toHaveLength(1);
  });

  test('an imported role of the domain\'s stack can be granted', () => {
    const { stack, indexer } = domainStack();
    indexer.grantSearch(iam.Role.fromRoleArn(stack, 'Imported', 'arn:aws:iam::123456789012:role/reports', { mutable: false }));
    const roles = onlyResource(Template.fromStack(stack), 'Custom::OpenSearchSecurityRoles');
    expect(roles.props.ExtraReaderRoleArns).toEqual(['arn:aws:iam::123456789012:role/reports']);
  });

  test('a role of another stack is refused with the fix: the stacks would depend on each other', () => {
    const { stack, indexer } = domainStack();
    const other = new Stack(stack.node.root as App, 'Other', { env: { region: 'eu-west-1' } });
    expect(() => indexer.grantSearch(readerRole(other)))
      .toThrow('Test/Search: grantSearch grantee \'Other/Dashboard\' belongs to stack Other, but the domain\'s access policy and role mapping live in Test '
        + 'and would make the two stacks depend on each other; create the role in Test, or import it there with iam.Role.fromRoleArn and grant that');
  });

  test('a user cannot be mapped as a backend role', () => {
    const { stack, indexer } = domainStack();
    expect(() => indexer.grantSearch(new iam.User(stack, 'Alice')))
      .toThrow(/^Test\/Search: grantSearch grantee .* is not an IAM role, and the domain's fine-grained access control maps only roles/);
  });
});

describe('metrics', () => {
  test('metricIteratorAge: Lambda\'s IteratorAge of the indexer, maximum over a minute by default', () => {
    const stack = testStack();
    const indexer = indexerIn(stack);
    const metric = indexer.metricIteratorAge();
    expect(metric).toMatchObject({ namespace: 'AWS/Lambda', metricName: 'IteratorAge', statistic: 'Maximum' });
    expect(metric.period.toSeconds()).toBe(60);
    expect(stack.resolve(metric.dimensions)).toEqual({ FunctionName: stack.resolve(indexer.indexerFunction.functionName) });
    const custom = indexer.metricIteratorAge({ period: Duration.minutes(5), statistic: 'p99' });
    expect(custom.period.toSeconds()).toBe(300);
    expect(custom.statistic).toBe('p99');
  });

  test('metricDeadLetterMessages: visible messages of the dead-letter queue, maximum over a minute by default', () => {
    const stack = testStack();
    const indexer = indexerIn(stack);
    const metric = indexer.metricDeadLetterMessages();
    expect(metric).toMatchObject({ namespace: 'AWS/SQS', metricName: 'ApproximateNumberOfMessagesVisible', statistic: 'Maximum' });
    expect(metric.period.toSeconds()).toBe(60);
    expect(stack.resolve(metric.dimensions)).toEqual({ QueueName: stack.resolve(indexer.deadLetterQueue.queueName) });
    expect(indexer.metricDeadLetterMessages({ statistic: 'Sum' }).statistic).toBe('Sum');
  });

  test('the construct\'s alarms watch these metrics, and createAlarm makes more', () => {
    const stack = testStack();
    const indexer = indexerIn(stack);
    indexer.metricIteratorAge({ period: Duration.minutes(5) }).createAlarm(stack, 'LagAlarm', { threshold: 60_000, evaluationPeriods: 3 });
    indexer.metricDeadLetterMessages().createAlarm(stack, 'AnyDeadLetter', { threshold: 0, evaluationPeriods: 1 });
    const t = Template.fromStack(stack);
    const alarms = Object.entries(t.findResources('AWS::CloudWatch::Alarm')).map(([id, a]) => ({ id, ...a.Properties }));
    const byId = (prefix: string) => alarms.find(a => a.id.startsWith(prefix))!;
    for (const [id, period] of [['SearchIteratorAgeAlarm', 60], ['LagAlarm', 300]] as const) {
      expect(byId(id)).toMatchObject({
        Namespace: 'AWS/Lambda',
        MetricName: 'IteratorAge',
        Statistic: 'Maximum',
        Period: period,
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: expect.stringMatching(/^SearchIndexer/) } }],
      });
    }
    expect(byId('LagAlarm')).toMatchObject({ Threshold: 60_000, EvaluationPeriods: 3 });
    for (const id of ['SearchDeadLetterAlarm', 'AnyDeadLetter']) {
      expect(byId(id)).toMatchObject({
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Statistic: 'Maximum',
        Period: 60,
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [expect.stringMatching(/^SearchDeadLetterQueue/), 'QueueName'] } }],
      });
    }
    expect(indexer.iteratorAgeAlarm.metric).toBeInstanceOf(cloudwatch.Metric);
  });
});

describe('removal policies', () => {
  // Only the construct's own resources (not the test VPC's flow log group).
  const deletionPolicies = (t: Template, type: string) => Object.entries(t.findResources(type))
    .filter(([id]) => id.startsWith('Search')).map(([, r]) => r.DeletionPolicy ?? 'Delete');

  test('the collection and its policies are deleted with the stack by default', () => {
    const stack = testStack();
    indexerIn(stack);
    const t = Template.fromStack(stack);
    expect(deletionPolicies(t, 'AWS::OpenSearchServerless::Collection')).toEqual(['Delete']);
    expect(deletionPolicies(t, 'AWS::OpenSearchServerless::SecurityPolicy')).toEqual(['Delete', 'Delete']);
    expect(deletionPolicies(t, 'AWS::OpenSearchServerless::AccessPolicy')).toEqual(['Delete']);
  });

  test('a retained collection keeps its encryption, network and data access policies, so it stays readable', () => {
    const stack = testStack();
    indexerIn(stack, { target: SearchTarget.serverless({ removalPolicy: RemovalPolicy.RETAIN }) });
    const t = Template.fromStack(stack);
    expect(deletionPolicies(t, 'AWS::OpenSearchServerless::Collection')).toEqual(['Retain']);
    expect(deletionPolicies(t, 'AWS::OpenSearchServerless::SecurityPolicy')).toEqual(['Retain', 'Retain']);
    expect(deletionPolicies(t, 'AWS::OpenSearchServerless::AccessPolicy')).toEqual(['Retain']);
  });

  test('SNAPSHOT is refused for a collection', () => {
    expect(() => indexerIn(testStack(), { target: SearchTarget.serverless({ removalPolicy: RemovalPolicy.SNAPSHOT }) }))
      .toThrow('Test/Search: target removalPolicy \'RemovalPolicy.SNAPSHOT\' is not supported by OpenSearch Serverless collections; use RemovalPolicy.DESTROY or RemovalPolicy.RETAIN');
  });

  test('a domain is retained by default, or destroyed when asked', () => {
    for (const [removalPolicy, expected] of [[undefined, 'Retain'], [RemovalPolicy.DESTROY, 'Delete']] as const) {
      const { stack, vpc } = stackWithVpc();
      indexerIn(stack, { vpc, target: SearchTarget.domain({ removalPolicy }) });
      expect(deletionPolicies(Template.fromStack(stack), 'AWS::OpenSearchService::Domain')).toEqual([expected]);
    }
  });

  test('log groups: the functions\' and the API\'s are deleted by default, a domain\'s own are retained', () => {
    const { stack, vpc } = stackWithVpc();
    indexerIn(stack, { vpc, target: SearchTarget.domain() });
    const t = Template.fromStack(stack);
    const groups = Object.entries(t.findResources('AWS::Logs::LogGroup')).filter(([id]) => id.startsWith('Search')).map(([id, g]) => `${id.replace(/[0-9A-F]{8}$/, '')} ${g.DeletionPolicy}`).sort();
    expect(groups).toEqual([
      'SearchDomainAppLogs Retain',
      'SearchDomainAuditLogs Retain',
      'SearchDomainSecurityBootstrapLogs Delete',
      'SearchDomainSlowIndexLogs Retain',
      'SearchDomainSlowSearchLogs Retain',
      'SearchIndexerLogs Delete',
      'SearchSearchApiAccessLogs Delete',
      'SearchSearchLogs Delete',
    ]);
  });

  test('logRemovalPolicy applies to every log group the construct creates', () => {
    const { stack, vpc } = stackWithVpc();
    indexerIn(stack, { vpc, target: SearchTarget.domain(), logRemovalPolicy: RemovalPolicy.RETAIN });
    const t = Template.fromStack(stack);
    expect(deletionPolicies(t, 'AWS::Logs::LogGroup')).toEqual(Array(8).fill('Retain'));
  });

  test('logRemovalPolicy DESTROY deletes a domain\'s log groups too', () => {
    const { stack, vpc } = stackWithVpc();
    indexerIn(stack, { vpc, target: SearchTarget.domain(), logRemovalPolicy: RemovalPolicy.DESTROY });
    expect(deletionPolicies(Template.fromStack(stack), 'AWS::Logs::LogGroup')).toEqual(Array(8).fill('Delete'));
  });
});

describe('an imported search API', () => {
  const imported = (stack: Stack) => apigwv2.HttpApi.fromHttpApiAttributes(stack, 'Api', { httpApiId: 'abc123', apiEndpoint: 'https://abc123.execute-api.eu-west-1.amazonaws.com' });

  test('gets GET /search as a route of the indexer, behind searchAuthorizer', () => {
    const stack = testStack();
    const indexer = indexerIn(stack, { searchApi: imported(stack) });
    const t = Template.fromStack(stack);
    const route = onlyResource(t, 'AWS::ApiGatewayV2::Route');
    expect(route.logicalId).toMatch(/^SearchSearchRoute/);
    expect(route.props).toMatchObject({ ApiId: 'abc123', RouteKey: 'GET /search', AuthorizationType: 'AWS_IAM' });
    t.resourceCountIs('AWS::ApiGatewayV2::Api', 0);
    expect(indexer.searchUrl).toBe('https://abc123.execute-api.eu-west-1.amazonaws.com/search');
  });

  test('without searchAuthorizer or publicSearch synthesis fails: its default authorizer cannot be seen', () => {
    const stack = testStack();
    expect(() => new StreamIndexer(stack, 'Search', { table: messagesTable(stack), documentId: ['room', 'message'], fields: FIELDS, searchApi: imported(stack) }))
      .toThrow(/^Test\/Search: searchAuthorizer undefined leaves GET \/search open to anyone/);
  });
});

describe('indexName', () => {
  test('defaults to the construct\'s own id and -index, in lower case, whatever the path', () => {
    const stack = testStack();
    const nested = new Construct(new Construct(stack, 'Chat'), 'Backend');
    const indexer = new StreamIndexer(nested, 'MessageSearch', {
      table: messagesTable(nested), documentId: ['room', 'message'], fields: FIELDS, searchAuthorizer: new HttpIamAuthorizer(),
    });
    expect(indexer.indexName).toBe('messagesearch-index');
  });
});

describe('an existing collection', () => {
  const ATTRIBUTES = {
    collectionArn: 'arn:aws:aoss:eu-west-1:123456789012:collection/abcdef0123456789',
    collectionName: 'shared-search',
    collectionEndpoint: 'https://abcdef0123456789.eu-west-1.aoss.amazonaws.com',
  };

  test('gets a data access policy of its own naming the two roles, and no collection or security policy is made', () => {
    const stack = testStack();
    const indexer = indexerIn(stack, { target: SearchTarget.existingCollection(ATTRIBUTES) });
    indexer.grantSearch(readerRole(stack));
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::OpenSearchServerless::Collection', 0);
    t.resourceCountIs('AWS::OpenSearchServerless::SecurityPolicy', 0);
    t.resourceCountIs('AWS::OpenSearchServerless::VpcEndpoint', 0);
    const policy = onlyResource(t, 'AWS::OpenSearchServerless::AccessPolicy');
    // Named for this construct, not the collection: the owner's own data access policy keeps its name.
    expect(policy.props.Name).toMatch(/^[a-z][a-z0-9-]{2,31}$/);
    expect(policy.props.Name).not.toBe('shared-search');
    expect(policy.props.Type).toBe('data');
    const entries = accessEntries(stack, policy.resource);
    const index = ['index/shared-search/search-index'];
    expect(entries).toEqual([
      expect.objectContaining({ Rules: [expect.objectContaining({ Resource: index, Permission: expect.arrayContaining(['aoss:CreateIndex', 'aoss:WriteDocument']) })], Principal: [expect.stringMatching(/^<SearchIndexerRole/)] }),
      expect.objectContaining({ Rules: [expect.objectContaining({ Resource: index, Permission: ['aoss:DescribeIndex', 'aoss:ReadDocument'] })], Principal: [expect.stringMatching(/^<SearchSearchRole/)] }),
      expect.objectContaining({ Rules: [expect.objectContaining({ Resource: index, Permission: ['aoss:DescribeIndex', 'aoss:ReadDocument'] })], Principal: [expect.stringMatching(/^<Dashboard/)] }),
    ]);
    for (const role of ['SearchIndexerRole', 'SearchSearchRole', 'Dashboard']) {
      expect(roleStatements(t, role)).toContainEqual(expect.objectContaining({ Action: 'aoss:APIAccessAll', Resource: ATTRIBUTES.collectionArn }));
    }
    expect(indexer.endpoint).toBe(ATTRIBUTES.collectionEndpoint);
    expect(indexer.collection).toBeUndefined();
  });

  test('nag-clean, granted to a reader', () => {
    const stack = testStack();
    indexerIn(stack, { target: SearchTarget.existingCollection(ATTRIBUTES) }).grantSearch(readerRole(stack));
    expect(nagFindings(stack)).toEqual([]);
  });

  test.each([
    [{ collectionName: 'Shared' }, 'Test/Search: target collectionName \'Shared\' is not a collection name'],
    [{ collectionArn: 'arn:aws:es:eu-west-1:123456789012:domain/x' }, 'Test/Search: target collectionArn \'arn:aws:es:eu-west-1:123456789012:domain/x\' is not a collection ARN'],
    [{ collectionEndpoint: 'abcdef.eu-west-1.aoss.amazonaws.com' }, 'Test/Search: target collectionEndpoint \'abcdef.eu-west-1.aoss.amazonaws.com\' is not an https endpoint'],
  ])('attributes %j are refused', (change, message) => {
    expect(() => indexerIn(testStack(), { target: SearchTarget.existingCollection({ ...ATTRIBUTES, ...change }) })).toThrow(message);
  });
});

describe('an existing domain', () => {
  const ATTRIBUTES = {
    domainArn: 'arn:aws:es:eu-west-1:123456789012:domain/shared',
    domainEndpoint: 'https://vpc-shared-abc.eu-west-1.es.amazonaws.com',
  };

  test('the roles get the IAM side of their calls; no domain, bootstrap or access policy is made', () => {
    const stack = testStack();
    const indexer = indexerIn(stack, { target: SearchTarget.existingDomain(ATTRIBUTES) });
    indexer.grantSearch(readerRole(stack));
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::OpenSearchService::Domain', 0);
    t.resourceCountIs('Custom::OpenSearchSecurityRoles', 0);
    t.resourceCountIs('AWS::Lambda::Function', 2);
    const calls = (role: string) => roleStatements(t, role).filter(s => String(s.Action).startsWith('es:') || JSON.stringify(s.Action).includes('es:'))
      .flatMap(s => ([] as string[]).concat(s.Action).flatMap(a => ([] as string[]).concat(s.Resource).map(r => `${a} ${r.replace(`${ATTRIBUTES.domainArn}/`, '')}`))).sort();
    expect(calls('SearchIndexerRole')).toEqual(['es:ESHttpPost search-index/_bulk', 'es:ESHttpPut search-index']);
    expect(calls('SearchSearchRole')).toEqual(['es:ESHttpPost search-index/_search']);
    expect(calls('Dashboard')).toEqual([
      'es:ESHttpGet search-index/_count', 'es:ESHttpGet search-index/_search',
      'es:ESHttpPost search-index/_count', 'es:ESHttpPost search-index/_search',
    ]);
    expect(indexer.endpoint).toBe(ATTRIBUTES.domainEndpoint);
    expect(indexer.domain).toBeUndefined();
  });

  test('in a VPC the functions join clientSecurityGroups', () => {
    const { stack, vpc } = stackWithVpc();
    const clients = new ec2.SecurityGroup(stack, 'Clients', { vpc });
    indexerIn(stack, { vpc, target: SearchTarget.existingDomain({ ...ATTRIBUTES, clientSecurityGroups: [clients] }) });
    const fns = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function'));
    expect(fns).toHaveLength(2);
    for (const fn of fns) {
      expect(fn.Properties.VpcConfig.SecurityGroupIds).toEqual([{ 'Fn::GetAtt': [expect.stringMatching(/^Clients/), 'GroupId'] }]);
    }
  });

  test('nag-clean, granted to a reader', () => {
    const { stack, vpc } = stackWithVpc();
    indexerIn(stack, { vpc, target: SearchTarget.existingDomain(ATTRIBUTES) }).grantSearch(readerRole(stack));
    expect(nagFindings(stack)).toEqual([]);
  });

  test('clientSecurityGroups without a vpc are refused', () => {
    const { stack, vpc } = stackWithVpc();
    const clients = new ec2.SecurityGroup(stack, 'Clients', { vpc });
    expect(() => indexerIn(stack, { target: SearchTarget.existingDomain({ ...ATTRIBUTES, clientSecurityGroups: [clients] }) }))
      .toThrow('Test/Search: target \'SearchTarget.existingDomain()\' has clientSecurityGroups, but vpc is not set');
  });

  test.each([
    [{ domainArn: 'arn:aws:aoss:eu-west-1:123456789012:collection/x' }, 'Test/Search: target domainArn \'arn:aws:aoss:eu-west-1:123456789012:collection/x\' is not a domain ARN'],
    [{ domainEndpoint: 'https://shared.example.com/search' }, 'Test/Search: target domainEndpoint \'https://shared.example.com/search\' is not an https endpoint'],
  ])('attributes %j are refused', (change, message) => {
    expect(() => indexerIn(testStack(), { target: SearchTarget.existingDomain({ ...ATTRIBUTES, ...change }) })).toThrow(message);
  });
});
