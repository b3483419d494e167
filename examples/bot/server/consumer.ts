import { setTimeout as sleep } from 'timers/promises';
import { CommandError } from './commands';
import { answerAddress, Envelope, EnvelopeError, parseMessage, Reply, replyOf } from './envelope';
import { BotMessaging, QueueMessage } from './messaging';
import type { Logger } from '../../kit/log';

export interface ConsumerHandlers {
  /** Answers a request; the result is the reply's payload. Throw CommandError to refuse it. */
  onRequest(envelope: Envelope): Promise<unknown>;
  /** A reply to a request this consumer's owner made. */
  onReply(reply: Reply): void;
}

/** What a consumer has done, for logs, metrics and tests. */
export interface ConsumerCounters {
  answered: number;
  refused: number;
  invalid: number;
  expired: number;
  replies: number;
  /** Handler failures left on the queue for another try. */
  retried: number;
}

/** Longest a failed message waits before its next try (SQS redelivers after the visibility timeout). */
const MAX_RETRY_DELAY_SECONDS = 30;

/**
 * Reads one queue with long polling and handles its messages concurrently (at most `maxInFlight`):
 * requests are answered to their `replyTo`, replies are handed to the owner, anything unreadable is
 * answered with an error when it says where to, and deleted. A handler failure that is not a
 * CommandError leaves the message on the queue and retries it after as many seconds as it has been
 * received (1, 2, 3 ... rather than the queue's whole visibility timeout), so that a poison message
 * reaches the dead-letter queue after the queue's `maxReceiveCount` tries within seconds, not minutes.
 */
export class QueueConsumer {
  public readonly counters: ConsumerCounters = { answered: 0, refused: 0, invalid: 0, expired: 0, replies: 0, retried: 0 };
  private readonly stopping = new AbortController();
  private loop?: Promise<void>;
  private inFlight = 0;
  private readonly idle: Array<() => void> = [];

  constructor(
    private readonly messaging: BotMessaging,
    private readonly queueUrl: string,
    /** `shard` of the replies it sends. */
    private readonly shard: number,
    private readonly handlers: ConsumerHandlers,
    private readonly log: Logger,
    private readonly maxInFlight = 32,
  ) {}

  public start(): void {
    this.loop ??= this.run();
  }

  /** Stops receiving and waits for the messages in hand. */
  public async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
    while (this.inFlight > 0) {
      await new Promise<void>(resolve => this.idle.push(resolve));
    }
  }

  private async run(): Promise<void> {
    const signal = this.stopping.signal;
    let failures = 0;
    while (!signal.aborted) {
      if (this.inFlight >= this.maxInFlight) {
        await new Promise<void>(resolve => this.idle.push(resolve));
        continue;
      }
      let messages: QueueMessage[];
      try {
        messages = await this.messaging.receive(this.queueUrl, { max: Math.min(10, this.maxInFlight - this.inFlight), waitSeconds: 20, signal });
        failures = 0;
      } catch (err) {
        if (signal.aborted) {
          return;
        }
        failures += 1;
        this.log.warn({ err: (err as Error).message, queue: this.queueUrl }, 'receive failed; retrying');
        await sleep(Math.min(200 * 2 ** failures, 5000), undefined, { signal }).catch(() => undefined);
        continue;
      }
      for (const message of messages) {
        this.inFlight += 1;
        void this.handle(message).finally(() => {
          this.inFlight -= 1;
          this.idle.splice(0).forEach(wake => wake());
        });
      }
    }
  }

  private async handle(message: QueueMessage): Promise<void> {
    let parsed;
    try {
      parsed = parseMessage(message.body);
    } catch (err) {
      this.counters.invalid += 1;
      const e = err as EnvelopeError;
      this.log.warn({ code: e.code, error: e.message, bytes: Buffer.byteLength(message.body) }, 'refused a message');
      const address = answerAddress(message.body);
      if (address) {
        await this.reply(address.replyTo, replyOf(address, this.shard, { error: { code: e.code, message: e.message } }));
      }
      return this.delete(message);
    }
    if (parsed.kind === 'reply') {
      this.counters.replies += 1;
      this.handlers.onReply(parsed.reply);
      return this.delete(message);
    }
    const envelope = parsed.envelope;
    if (envelope.deadline !== undefined && envelope.deadline < Date.now()) {
      this.counters.expired += 1;
      this.log.info({ type: envelope.type, correlationId: envelope.correlationId, lateMs: Date.now() - envelope.deadline }, 'dropped a request past its deadline');
      return this.delete(message);
    }
    let reply: Reply;
    try {
      const payload = await this.handlers.onRequest(envelope);
      this.counters.answered += 1;
      reply = replyOf(envelope, this.shard, { payload: payload ?? null });
    } catch (err) {
      if (!(err instanceof CommandError)) {
        this.counters.retried += 1;
        const delay = Math.min(message.receiveCount, MAX_RETRY_DELAY_SECONDS);
        this.log.error({ err: (err as Error).message, type: envelope.type, correlationId: envelope.correlationId, receiveCount: message.receiveCount, retryInSeconds: delay }, 'request failed; left on the queue for another try');
        await this.messaging.release(this.queueUrl, message.receiptHandle, delay).catch(() => undefined);
        return;
      }
      this.counters.refused += 1;
      reply = replyOf(envelope, this.shard, { error: { code: err.code, message: err.message.slice(0, 1024) } });
    }
    if (envelope.replyTo) {
      await this.reply(envelope.replyTo, reply);
    }
    return this.delete(message);
  }

  private async reply(queueUrl: string, reply: Reply): Promise<void> {
    try {
      await this.messaging.send(queueUrl, reply);
    } catch (err) {
      this.log.warn({ err: (err as Error).message, replyTo: queueUrl, correlationId: reply.correlationId }, 'could not send a reply');
    }
  }

  private async delete(message: QueueMessage): Promise<void> {
    try {
      await this.messaging.delete(this.queueUrl, message.receiptHandle);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not delete a handled message; it will come back once');
    }
  }
}
