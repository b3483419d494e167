import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { nagFindings } from '../../examples/shared/nag';
import { FanoutQueues } from '../../src';
import { testStack } from '../support/stacks';

describe('FanoutQueues for domain events', () => {
  test('queues with and without a filter policy, a direct queue, and a queue without a dead-letter queue', () => {
    const stack = testStack();
    const events = new FanoutQueues(stack, 'Events', { maxReceiveCount: 3, visibilityTimeout: Duration.seconds(45) });
    const audit = events.addQueue('Audit');
    const billing = events.addQueue('Billing', {
      filterPolicy: { kind: sns.SubscriptionFilter.stringFilter({ allowlist: ['order.paid', 'order.refunded'] }) },
      maxReceiveCount: 10,
    });
    const direct = events.addQueue('Direct', { subscribe: false });
    const lossy = events.addQueue('Lossy', { subscribe: false, deadLetterQueue: false, retentionPeriod: Duration.minutes(1) });
    const t = Template.fromStack(stack);

    expect(events.queues).toEqual([audit, billing, direct, lossy]);
    const subscriptions = Object.values<any>(t.findResources('AWS::SNS::Subscription')).map(s => s.Properties);
    expect(subscriptions).toHaveLength(2);
    expect(subscriptions.find(s => JSON.stringify(s.Endpoint).includes('Audit'))).toMatchObject({ RawMessageDelivery: true });
    expect(subscriptions.find(s => JSON.stringify(s.Endpoint).includes('Audit')).FilterPolicy).toBeUndefined();
    expect(subscriptions.find(s => JSON.stringify(s.Endpoint).includes('Billing')).FilterPolicy).toEqual({ kind: ['order.paid', 'order.refunded'] });
    expect(direct.subscription).toBeUndefined();

    const queue = (q: { node: any }) => t.toJSON().Resources[stack.resolve(q.node.defaultChild.logicalId)].Properties;
    expect(queue(audit.queue)).toMatchObject({ VisibilityTimeout: 45, MessageRetentionPeriod: 86_400, RedrivePolicy: { maxReceiveCount: 3 } });
    expect(queue(billing.queue).RedrivePolicy.maxReceiveCount).toBe(10);
    expect(queue(lossy.queue).RedrivePolicy).toBeUndefined();
    expect(queue(lossy.queue).MessageRetentionPeriod).toBe(60);
    expect(lossy.deadLetterQueue).toBeUndefined();
    expect(lossy.deadLetterAlarm).toBeUndefined();
    t.resourceCountIs('AWS::CloudWatch::Alarm', 3);
    t.resourceCountIs('AWS::SQS::Queue', 7);
  });

  test('a customer managed topic key: publishers get its use with grantPublish', () => {
    const stack = testStack();
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    const events = new FanoutQueues(stack, 'Events', { topicEncryptionKey: key });
    const publisher = new iam.Role(stack, 'Publisher', { assumedBy: new iam.AccountRootPrincipal() });
    events.grantPublish(publisher);
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Key'), 'Arn'] } });
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: 'sns:Publish' }),
          Match.objectLike({ Action: ['kms:Decrypt', 'kms:GenerateDataKey*'] }),
        ]),
      },
    });
  });

  test('a filter policy on a queue that is not subscribed is refused', () => {
    const events = new FanoutQueues(testStack(), 'Events');
    expect(() => events.addQueue('Direct', { subscribe: false, filterPolicy: { kind: sns.SubscriptionFilter.existsFilter() } }))
      .toThrow("Test/Events: addQueue('Direct') filterPolicy 'kind' has no effect on a queue that is not subscribed; remove filterPolicy, or leave subscribe at true");
  });

  test('settings outside SQS\'s ranges are refused', () => {
    expect(() => new FanoutQueues(testStack(), 'Events', { visibilityTimeout: Duration.hours(13) }))
      .toThrow("Test/Events: visibilityTimeout 46800s exceeds SQS visibility timeout's 43200s limit; use a value from 0s to 43200s");
    expect(() => new FanoutQueues(testStack(), 'Events').addQueue('Q', { retentionPeriod: Duration.seconds(30) }))
      .toThrow("Test/Events: addQueue('Q') retentionPeriod 30s is below SQS message retention's 60s minimum; use a value from 60s to 1209600s");
  });

  test('cdk-nag: only a queue made without a dead-letter queue is reported (its owner must say why)', () => {
    const stack = testStack();
    const events = new FanoutQueues(stack, 'Events');
    events.addQueue('Kept');
    events.addQueue('Lossy', { deadLetterQueue: false });
    const findings = nagFindings(stack).filter(f => f.resources.some(r => r.startsWith('Test/Events/')));
    expect(findings.map(f => [f.rule, f.resources])).toEqual([['AwsSolutions-SQS3', ['Test/Events/Lossy/Resource']]]);
  });
});
