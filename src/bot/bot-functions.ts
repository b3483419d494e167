import { Duration } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as lambda from 'aws-cdk-lib/aws-lambda';

/**
 * The HTTP command API of a ShardedBot: `POST <path>` runs your command function, which publishes
 * requests to the shards and may wait for their answers on its own reply queue.
 *
 * The function gets `BOT_TOPIC_ARN`, `BOT_REPLY_QUEUE_URL` and `SHARD_COUNT`, may publish to the bot topic
 * and consume its reply queue. The reply queue is shared by all concurrent invocations, so its visibility
 * timeout is 0: a reply that one invocation receives stays visible to the others. Each invocation deletes
 * only the replies whose `correlationId` it owns; replies nobody owns any more expire after 5 minutes.
 */
export interface BotCommandApiOptions {
  /** The command function's code, e.g. `lambda.Code.fromAsset('dist/commands')`. */
  readonly code: lambda.Code;
  /** The function's handler, e.g. `index.handler`. */
  readonly handler: string;
  /**
   * The function's runtime.
   * @default lambda.Runtime.NODEJS_24_X
   */
  readonly runtime?: lambda.Runtime;
  /**
   * The function's memory in MiB.
   * @default 256
   */
  readonly memorySize?: number;
  /**
   * The function's timeout: how long a command may wait for the shards' answers. HTTP APIs wait at most
   * 30 seconds for an integration, so at most 29 seconds.
   * @default Duration.seconds(10)
   */
  readonly timeout?: Duration;
  /**
   * Extra environment variables of the function. Keep secrets out of them.
   * @default - only the environment contract
   */
  readonly environment?: { [key: string]: string };
  /**
   * Who may call the API: an IAM authorizer (callers sign with SigV4 and need `execute-api:Invoke`, which
   * `grantInvokeCommands` gives), a JWT or a Lambda authorizer. `HttpNoneAuthorizer` is refused, since
   * commands reach every shard.
   * @default - `HttpIamAuthorizer`: only principals granted with `grantInvokeCommands`
   */
  readonly authorizer?: apigwv2.IHttpRouteAuthorizer;
  /**
   * The path of the `POST` route.
   * @default '/commands'
   */
  readonly path?: string;
  /**
   * Steady-state requests per second the API stage accepts.
   * @default 10
   */
  readonly throttlingRateLimit?: number;
  /**
   * Requests the API stage accepts in a burst.
   * @default 20
   */
  readonly throttlingBurstLimit?: number;
}

/**
 * Worker functions of a ShardedBot: offloaded work sent by the shards to the work queue
 * (`BOT_WORK_QUEUE_URL`) in the bot's envelope, and processed by your function in batches.
 *
 * The function reports failed records individually (`batchItemFailures`), so only those are retried; a
 * record received `maxReceiveCount` times moves to the work queue's dead-letter queue. It may answer a
 * request by sending to its `replyTo` (a shard queue or the command reply queue).
 */
export interface BotWorkerOptions {
  /** The worker function's code. */
  readonly code: lambda.Code;
  /** The function's handler, e.g. `index.handler`. */
  readonly handler: string;
  /**
   * The function's runtime.
   * @default lambda.Runtime.NODEJS_24_X
   */
  readonly runtime?: lambda.Runtime;
  /**
   * The function's memory in MiB.
   * @default 512
   */
  readonly memorySize?: number;
  /**
   * The function's timeout. The work queue's visibility timeout is six times this, as AWS advises for SQS
   * event sources, so a record is not delivered again while a retried invocation still holds it.
   * @default Duration.seconds(60)
   */
  readonly timeout?: Duration;
  /**
   * Extra environment variables of the function. Keep secrets out of them.
   * @default - none
   */
  readonly environment?: { [key: string]: string };
  /**
   * Records per invocation, 1 to 10.
   * @default 10
   */
  readonly batchSize?: number;
  /**
   * The most concurrent invocations the work queue drives, 2 to 1000; bounds what a burst of work can cost.
   * @default 5
   */
  readonly maxConcurrency?: number;
}
