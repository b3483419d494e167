import { Duration } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { ShardedBot, ShardedBotProps } from '../../src';
import { stackWithVpc, testImage } from '../support/stacks';

const code = lambda.Code.fromInline('exports.handler = async () => ({})');

/** The error that making a bot with these props throws. */
function errorOf(overrides: Partial<ShardedBotProps>): string {
  const { stack, vpc } = stackWithVpc();
  const props: ShardedBotProps = { vpc, image: testImage, shardCount: 4, tokenSecret: new secretsmanager.Secret(stack, 'Token'), ...overrides };
  try {
    new ShardedBot(stack, 'Bot', props);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected the bot to be refused');
}

describe('ShardedBot validation: errors name the construct, the prop, the value and the fix', () => {
  test.each([0, -1, 2.5, ShardedBot.MAX_SHARDS + 1, 1000])('shardCount %p', count => {
    expect(errorOf({ shardCount: count })).toBe(`Test/Bot: shardCount ${count} is not a whole number from 1 to 40 `
      + '(each shard adds 9 resources to a stack that holds at most 500); use 1 to 40 shards');
  });

  test('1 and MAX_SHARDS shards are accepted', () => {
    for (const shardCount of [1, ShardedBot.MAX_SHARDS]) {
      const { stack, vpc } = stackWithVpc();
      const bot = new ShardedBot(stack, 'Bot', { vpc, image: testImage, shardCount, tokenSecret: new secretsmanager.Secret(stack, 'Token') });
      expect(bot.services).toHaveLength(shardCount);
    }
  });

  test('a missing token secret (possible from untyped callers)', () => {
    expect(errorOf({ tokenSecret: undefined as unknown as secretsmanager.ISecret }))
      .toBe('Test/Bot: tokenSecret undefined is missing, so the shards could not log in to the gateway; '
        + 'store the bot token in Secrets Manager and give that secret as tokenSecret');
  });

  test('contract names cannot be overridden', () => {
    expect(errorOf({ environment: { SHARD_ID: '7' } })).toBe("Test/Bot: environment 'SHARD_ID' is set by the bot itself; remove it, or rename your variable");
    expect(errorOf({ secrets: { BOT_TOKEN: ecs.Secret.fromSecretsManager(secretsmanager.Secret.fromSecretNameV2(stackWithVpc().stack, 'X', 'x')) } }))
      .toBe("Test/Bot: secrets 'BOT_TOKEN' is set by the bot itself; remove it, or rename your secret");
    expect(errorOf({ commandApi: { code, handler: 'index.handler', environment: { BOT_REPLY_QUEUE_URL: 'x' } } }))
      .toBe("Test/Bot: commandApi.environment 'BOT_REPLY_QUEUE_URL' is set by the bot itself; remove it, or rename your variable");
  });

  test('service names', () => {
    expect(errorOf({ serviceNamePrefix: 'my bot' })).toMatch(/^Test\/Bot: serviceNamePrefix 'my bot' does not make valid ECS service names; use letters, digits, hyphens and underscores/);
    expect(errorOf({ serviceNamePrefix: 'a'.repeat(250) })).toMatch(/serviceNamePrefix 'a{250}' does not make valid ECS service names; .* at most 247 characters$/);
  });

  test('token field', () => {
    expect(errorOf({ tokenSecretField: 'bot token' })).toBe("Test/Bot: tokenSecretField 'bot token' is not a JSON key of the secret; give the key without spaces, or leave it unset");
  });

  test('stop timeout within Fargate\'s 120 s', () => {
    expect(errorOf({ stopTimeout: Duration.seconds(200) })).toBe("Test/Bot: stopTimeout 200s exceeds Fargate stopTimeout's 120s limit; use a value from 2s to 120s");
  });

  test('vpc and cluster together', () => {
    const { stack, vpc } = stackWithVpc();
    const cluster = new ecs.Cluster(stack, 'Cluster', { vpc });
    expect(() => new ShardedBot(stack, 'Bot', { vpc, cluster, image: testImage, shardCount: 1, tokenSecret: new secretsmanager.Secret(stack, 'Token') }))
      .toThrow("Test/Bot: vpc 'Test/Vpc' is ignored when cluster is given; remove vpc; the cluster's VPC is used");
  });

  test('command API: timeout within the HTTP API\'s 30 s, a route path, and never an open route', () => {
    expect(errorOf({ commandApi: { code, handler: 'h', timeout: Duration.seconds(40) } }))
      .toBe("Test/Bot: commandApi.timeout 40s exceeds the HTTP API integration's 29s limit; use a value from 1s to 29s");
    expect(errorOf({ commandApi: { code, handler: 'h', path: 'commands' } }))
      .toBe("Test/Bot: commandApi.path 'commands' is not a route path; give a path such as '/commands'");
    expect(errorOf({ commandApi: { code, handler: 'h', authorizer: new apigwv2.HttpNoneAuthorizer() } }))
      .toBe("Test/Bot: commandApi.authorizer 'HttpNoneAuthorizer' leaves the command route open to anyone, and commands reach every shard; "
        + 'leave authorizer unset (IAM, granted with grantInvokeCommands) or give a JWT or Lambda authorizer');
  });

  test('workers: batch size and concurrency within the SQS event source\'s ranges', () => {
    expect(errorOf({ worker: { code, handler: 'h', batchSize: 11 } })).toBe('Test/Bot: worker.batchSize 11 is not a whole number from 1 to 10; use a value from 1 to 10');
    expect(errorOf({ worker: { code, handler: 'h', maxConcurrency: 1 } })).toBe('Test/Bot: worker.maxConcurrency 1 is not a whole number from 2 to 1000; use a value from 2 to 1000');
  });

  test('Fargate task sizes', () => {
    expect(errorOf({ cpu: 300 })).toBe('Test/Bot: cpu 300 is not a Fargate task CPU value; use one of 256, 512, 1024, 2048, 4096, 8192, 16384');
    expect(errorOf({ memoryLimitMiB: 4096 })).toBe('Test/Bot: memoryLimitMiB 4096 is not a Fargate memory size for cpu 256; use 512, 1024 or 2048');
    expect(errorOf({ cpu: 256, memoryLimitMiB: 1536 })).toBe('Test/Bot: memoryLimitMiB 1536 is not a Fargate memory size for cpu 256; use 512, 1024 or 2048');
    expect(errorOf({ cpu: 8192, memoryLimitMiB: 17_408 })).toBe('Test/Bot: memoryLimitMiB 17408 is not a Fargate memory size for cpu 8192; use 16384 to 61440 in steps of 4096');
    expect(errorOf({ cpu: 1024, memoryLimitMiB: 1024 })).toBe('Test/Bot: memoryLimitMiB 1024 is not a Fargate memory size for cpu 1024; use 2048 to 8192 in steps of 1024');
  });

  test('every Fargate task size is accepted', () => {
    const sizes: Array<[number, number]> = [[256, 512], [256, 2048], [512, 3072], [2048, 16_384], [4096, 30_720], [16_384, 122_880]];
    for (const [cpu, memoryLimitMiB] of sizes) {
      const { stack, vpc } = stackWithVpc();
      expect(() => new ShardedBot(stack, 'Bot', { vpc, image: testImage, shardCount: 1, tokenSecret: new secretsmanager.Secret(stack, 'Token'), cpu, memoryLimitMiB }))
        .not.toThrow();
    }
  });

  test('queue settings', () => {
    expect(errorOf({ maxReceiveCount: 0 })).toBe('Test/Bot/Messaging: maxReceiveCount 0 is not a whole number from 1 to 1000; use a value from 1 to 1000');
    expect(errorOf({ messageRetention: Duration.days(15) })).toBe("Test/Bot: messageRetention 1296000s exceeds SQS message retention's 1209600s limit; use a value from 60s to 1209600s");
  });

  test('grantInvokeCommands without a command API says what to give', () => {
    const { stack, vpc } = stackWithVpc();
    const bot = new ShardedBot(stack, 'Bot', { vpc, image: testImage, shardCount: 1, tokenSecret: new secretsmanager.Secret(stack, 'Token') });
    expect(() => bot.grantInvokeCommands(bot.executionRole)).toThrow('Test/Bot: grantInvokeCommands needs a command API; give the commandApi prop');
  });
});
