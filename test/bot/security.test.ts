import { Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import { nagFindings } from '../../examples/shared/nag';
import { validateTemplate } from '../../scripts/lib/cfn-spec';
import { RedisPubSubBus, ShardedBot } from '../../src';
import { acknowledgedControls, controlFindings, controlReason } from '../support/controls';
import { stackWithVpc, testImage } from '../support/stacks';

const code = lambda.Code.fromInline('exports.handler = async () => ({})');

function fullBot(options: { logKey?: boolean; alarms?: boolean } = {}) {
  const { stack, vpc } = stackWithVpc();
  const bus = new RedisPubSubBus(stack, 'Bus', { vpc });
  const bot = new ShardedBot(stack, 'Bot', {
    vpc,
    bus,
    image: testImage,
    shardCount: 2,
    tokenSecret: new secretsmanager.Secret(stack, 'Token'),
    commandApi: { code, handler: 'index.handler' },
    worker: { code, handler: 'index.handler' },
    logEncryptionKey: options.logKey ? new kms.Key(stack, 'LogKey', { enableKeyRotation: true }) : undefined,
    alarmTopic: options.alarms ? new sns.Topic(stack, 'Alarms', { masterKey: new kms.Key(stack, 'AlarmKey', { enableKeyRotation: true }), enforceSSL: true }) : undefined,
  });
  return { stack, bot };
}

describe('ShardedBot security checks', () => {
  test('cdk-nag AwsSolutions: no unacknowledged finding on the bot, with every option', () => {
    const { stack } = fullBot();
    expect(nagFindings(stack).filter(f => f.resources.some(r => r.startsWith('Test/Bot/')))).toEqual([]);
  });

  test('cdk-nag with a customer managed topic key (its kms:GenerateDataKey* grants): still no unacknowledged finding', () => {
    const { stack, vpc } = stackWithVpc();
    new ShardedBot(stack, 'Bot', {
      vpc,
      image: testImage,
      shardCount: 2,
      tokenSecret: new secretsmanager.Secret(stack, 'Token'),
      topicEncryptionKey: new kms.Key(stack, 'TopicKey', { enableKeyRotation: true }),
      commandApi: { code, handler: 'index.handler' },
      worker: { code, handler: 'index.handler' },
    });
    expect(nagFindings(stack).filter(f => f.resources.some(r => r.startsWith('Test/Bot/')))).toEqual([]);
  });

  test('Control Tower: clean once logs have a key and alarms a topic; only the reply queue, dead-letter queues and API permission are acknowledged', () => {
    const { stack } = fullBot({ logKey: true, alarms: true });
    expect(controlFindings(stack, 'Test/Bot/')).toEqual([]);
    expect(acknowledgedControls(stack, 'Test/Bot/')).toEqual({
      'Test/Bot/Messaging/Shard0DeadLetters/Resource': ['sqs_dlq_check'],
      'Test/Bot/Messaging/Shard1DeadLetters/Resource': ['sqs_dlq_check'],
      'Test/Bot/Messaging/WorkDeadLetters/Resource': ['sqs_dlq_check'],
      'Test/Bot/Messaging/Replies/Resource': ['sqs_dlq_check'],
      'Test/Bot/CommandApi/POST--commands/Commands-Permission': ['lambda_function_public_access_prohibited_check'],
    });
    expect(controlReason(stack, 'Test/Bot/Messaging/Replies/Resource', 'sqs_dlq_check')).toMatch(/^A reply queue holds answers for a caller that waits/);
  });

  test('Control Tower without a log key or alarm topic names exactly those two gaps, which the user closes', () => {
    const { stack } = fullBot();
    const rules = [...new Set(controlFindings(stack, 'Test/Bot/').map(f => f.split(' on ')[0]))];
    expect(rules).toEqual(['CT.CLOUDWATCH.PR.1 cloudwatch_alarm_action_check', 'CT.CLOUDWATCH.PR.3 cloudwatch_log_group_encrypted_check']);
  });

  test('every resource is valid against the CloudFormation resource specification', () => {
    const { stack } = fullBot({ logKey: true, alarms: true });
    expect(validateTemplate(Template.fromStack(stack).toJSON())).toEqual([]);
  });
});
