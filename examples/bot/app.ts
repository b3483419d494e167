import { App, Stack, StackProps } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { bundleFunction, shardImage } from './bundle';
import { RedisPubSubBus, ShardedBot } from '../../src';
import { acknowledge } from '../shared/acknowledge';
import { exampleApp, exampleEnv } from '../shared/example-app';
import { EXAMPLE_LOG_RETENTION, exampleKey } from '../shared/logs';
import { exampleVpc } from '../shared/network';
import { exampleProfile } from '../shared/profile';

/** Shards of the example bot: each holds the guilds `(guild_id >> 22) % 4` routes to it. */
export const BOT_SHARDS = 4;

/**
 * A sharded gateway bot: ShardedBot runs 4 shard tasks (one Fargate service of exactly one task per
 * shard) of the shard program in `server/`, which answers `!ping` in its own guilds, sums `!stats` over
 * every shard through the bot topic and the shard queues, and offloads `!analyze` to the worker function
 * (`lambda/worker.ts`) on the work queue. The command API (`lambda/command-api.ts`, IAM-authorized
 * `POST /commands`) publishes requests to the shards and gathers their answers on its reply queue. A
 * Valkey bus paces the shards' gateway identifies (one per bucket per 5 s) across tasks. The token lives
 * in Secrets Manager: give a secret holding it with `-c tokenSecretArn=...`, or put it into the secret this
 * stack makes after the first deploy. `-c profile=lean` runs the bus on serverless Valkey; the shards run
 * all the time either way (a gateway session is a live connection).
 */
export class BotStack extends Stack {
  public readonly bot: ShardedBot;
  public readonly bus: RedisPubSubBus;
  public readonly tokenSecret: secretsmanager.ISecret;
  /** Where the dead-letter alarms of the shard and work queues go: subscribe to it. */
  public readonly alarmTopic: sns.Topic;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const profile = exampleProfile(this);
    // The shards, the worker and the command function all reach the internet (gateway, REST, SNS, SQS) from
    // private subnets, so the NAT gateway stays in every profile; `lean` runs the bus serverless.
    const vpc = exampleVpc(this, { natGateway: true });
    this.bus = new RedisPubSubBus(this, 'Bus', { vpc, mode: profile.busMode, logRetention: EXAMPLE_LOG_RETENTION, logEncryptionKey: exampleKey(this) });
    this.tokenSecret = this.token();
    this.alarmTopic = new sns.Topic(this, 'Alarms', { displayName: 'Bot alarms', masterKey: exampleKey(this), enforceSSL: true });

    this.bot = new ShardedBot(this, 'Bot', {
      vpc,
      image: shardImage(),
      shardCount: BOT_SHARDS,
      tokenSecret: this.tokenSecret,
      bus: this.bus,
      commandApi: { code: lambda.Code.fromAsset(bundleFunction('command-api')), handler: 'index.handler' },
      // The worker answers through the REST API, so it reads the token itself (token.ts); the shards get
      // it as an ECS secret.
      worker: {
        code: lambda.Code.fromAsset(bundleFunction('worker')),
        handler: 'index.handler',
        environment: { BOT_TOKEN_SECRET_ARN: this.tokenSecret.secretArn },
      },
      alarmTopic: this.alarmTopic,
      logRetention: EXAMPLE_LOG_RETENTION,
      logEncryptionKey: exampleKey(this),
    });
    this.tokenSecret.grantRead(this.bot.workerFunction!);
  }

  /**
   * `-c tokenSecretArn=arn:aws:secretsmanager:...` uses a secret that already holds the token; otherwise a new
   * secret is made (with a random value: the shards report the refused token and wait until the real one is
   * put in and they are redeployed).
   */
  private token(): secretsmanager.ISecret {
    const arn: string | undefined = this.node.tryGetContext('tokenSecretArn');
    if (arn) {
      return secretsmanager.Secret.fromSecretCompleteArn(this, 'Token', arn);
    }
    const secret = new secretsmanager.Secret(this, 'Token', {
      description: 'The bot token from the developer portal: aws secretsmanager put-secret-value --secret-id <this> --secret-string <token>',
    });
    acknowledge(secret, 'SMG4',
      'The bot token is issued by the gateway provider\'s developer portal, which Secrets Manager cannot rotate; it is replaced there and put into the secret by hand.');
    return secret;
  }
}

/** Adds the example's stacks to an app. */
export function createStacks(app: App): Stack[] {
  return [new BotStack(app, 'RealtimeBot', { env: exampleEnv() })];
}

if (require.main === module) {
  const app = exampleApp();
  createStacks(app);
  app.synth();
}
