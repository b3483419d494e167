/**
 * A message to one shard, to every shard, or to a worker: the body (JSON) of every message on the bot
 * topic, the shard queues and the work queue.
 *
 * A request is published to the bot topic with the SNS message attribute `shard` (DataType `String`): a
 * shard id in decimal (`"3"`), or `all`. Each shard queue's subscription filter policy admits its own id
 * and `all`, and delivers the body raw (no SNS wrapper). Work for the worker functions is sent straight to
 * the work queue (`BOT_WORK_QUEUE_URL`) in the same envelope.
 *
 * Whoever expects an answer sets `replyTo` to the URL of a queue it reads (a shard's own `BOT_QUEUE_URL`,
 * the command function's `BOT_REPLY_QUEUE_URL`) and a fresh `correlationId`; the receiver sends a
 * `BotReply` there with `sqs:SendMessage`. A request to `all` gets one reply per shard: the requester
 * gathers them until it has `SHARD_COUNT` answers or its own timeout passes, and then answers with what it
 * has (a partial answer names the shards that were missing). A receiver drops a request whose `deadline`
 * has passed, since nobody waits for its answer any more.
 */
export interface BotEnvelope {
  /** What is asked, e.g. `stats` or `ping`; lower-case letters, digits, `_`, `.` and `-`. */
  readonly type: string;
  /** Chosen by the requester, unique per request; every reply carries it back. */
  readonly correlationId: string;
  /**
   * URL of the SQS queue the answer goes to.
   * @default - no answer is expected (a one-way command)
   */
  readonly replyTo?: string;
  /**
   * Epoch milliseconds after which the request is dropped unanswered.
   * @default - no deadline; the receiver answers whenever it gets the request
   */
  readonly deadline?: number;
  /** The request's own data. */
  readonly payload: any;
}

/** An answer to a `BotEnvelope`, sent to its `replyTo` queue: carries either `payload` or `error`. */
export interface BotReply {
  /** The request's type followed by `.reply`, e.g. `stats.reply`. */
  readonly type: string;
  /** The request's `correlationId`. */
  readonly correlationId: string;
  /** The id of the shard that answers (`-1` for a worker function). */
  readonly shard: number;
  /**
   * The answer.
   * @default - none; `error` says why
   */
  readonly payload?: any;
  /**
   * Why there is no answer, e.g. `{ code: 'unknown_type', message: '...' }`.
   * @default - none; the request succeeded
   */
  readonly error?: any;
}

/** Names and values of the bot's message routing, shared by the construct and the code that runs in it. */
export class BotProtocol {
  /** The SNS message attribute (DataType `String`) the shard queues filter on. */
  public static readonly SHARD_ATTRIBUTE = 'shard';
  /** The value of `SHARD_ATTRIBUTE` that reaches every shard. */
  public static readonly ALL_SHARDS = 'all';
  /** Appended to a request's type to make its reply's type. */
  public static readonly REPLY_SUFFIX = '.reply';

  private constructor() {}
}
