import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { RedisPubSubBus, ShardedBot } from '../../src';
import { stackWithVpc, testImage } from '../support/stacks';

/**
 * A stack holds at most 500 resources:
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html
 */
const CLOUDFORMATION_RESOURCES_PER_STACK = 500;
/**
 * A topic takes at most 200 subscription filter policies by default:
 * https://docs.aws.amazon.com/sns/latest/dg/subscription-filter-policy-constraints.html
 */
const SNS_FILTER_POLICIES_PER_TOPIC = 200;

const code = lambda.Code.fromInline('exports.handler = async () => ({})');

/** A stack like the bot example's: a three-tier VPC, a bus, and a bot with every option. */
function fullStack(shardCount: number): { stack: Stack; t: Template } {
  const { stack, vpc } = stackWithVpc();
  const bus = new RedisPubSubBus(stack, 'Bus', { vpc });
  new ShardedBot(stack, 'Bot', {
    vpc,
    bus,
    image: testImage,
    shardCount,
    tokenSecret: new secretsmanager.Secret(stack, 'Token'),
    commandApi: { code, handler: 'index.handler' },
    worker: { code, handler: 'index.handler' },
  });
  return { stack, t: Template.fromStack(stack) };
}

function resourceCount(t: Template): number {
  return Object.keys(t.toJSON().Resources).length;
}

describe('ShardedBot within AWS quotas', () => {
  test('each shard adds 9 resources', () => {
    expect(resourceCount(fullStack(3).t) - resourceCount(fullStack(2).t)).toBe(9);
  });

  test(`at MAX_SHARDS (${ShardedBot.MAX_SHARDS}) a stack with a VPC, a bus and every bot option stays within ${CLOUDFORMATION_RESOURCES_PER_STACK} resources`, () => {
    const { t } = fullStack(ShardedBot.MAX_SHARDS);
    const count = resourceCount(t);
    expect(count).toBeLessThanOrEqual(CLOUDFORMATION_RESOURCES_PER_STACK);
    // The bound leaves room (at least 50 resources) for the app's own resources next to the bot.
    expect(CLOUDFORMATION_RESOURCES_PER_STACK - count).toBeGreaterThanOrEqual(50);
  });

  test('the topic\'s filter policies stay within SNS\'s per-topic quota', () => {
    const { t } = fullStack(ShardedBot.MAX_SHARDS);
    const filtered = Object.values<any>(t.findResources('AWS::SNS::Subscription')).filter(s => s.Properties.FilterPolicy);
    expect(filtered).toHaveLength(ShardedBot.MAX_SHARDS);
    expect(filtered.length).toBeLessThanOrEqual(SNS_FILTER_POLICIES_PER_TOPIC);
  });
});
