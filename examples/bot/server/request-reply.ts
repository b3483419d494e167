import { setTimeout as sleep } from 'timers/promises';
import { ALL_SHARDS, EnvelopeError, newRequest, parseMessage, Reply, ReplyError, ShardTarget } from './envelope';
import { BotMessaging } from './messaging';

/** What a request gathered by its deadline. */
export interface Gathered {
  readonly correlationId: string;
  /** Payloads by the shard that answered. */
  readonly answers: ReadonlyMap<number, unknown>;
  /** Shards that answered with an error. */
  readonly errors: ReadonlyMap<number, ReplyError>;
  /** Shards asked that did not answer before the deadline, in order. */
  readonly missing: number[];
  readonly complete: boolean;
  readonly elapsedMs: number;
}

interface Pending {
  readonly expected: Set<number>;
  readonly answers: Map<number, unknown>;
  readonly errors: Map<number, ReplyError>;
  readonly done: () => void;
}

/**
 * Requests waiting for their answers, by correlation id. Whatever reads the reply queue hands each reply
 * to `deliver`; a request resolves once every shard asked has answered, or at its deadline with what it has.
 */
export class PendingReplies {
  private readonly pending = new Map<string, Pending>();

  /** Takes a reply; false if no request here waits for it (late, or someone else's). */
  public deliver(reply: Reply): boolean {
    const entry = this.pending.get(reply.correlationId);
    if (!entry || !entry.expected.has(reply.shard)) {
      return false;
    }
    entry.expected.delete(reply.shard);
    if ('error' in reply) {
      entry.errors.set(reply.shard, reply.error);
    } else {
      entry.answers.set(reply.shard, reply.payload);
    }
    if (entry.expected.size === 0) {
      entry.done();
    }
    return true;
  }

  /** Ends a wait early (its request could not be sent). */
  public cancel(correlationId: string): void {
    this.pending.get(correlationId)?.done();
  }

  public get size(): number {
    return this.pending.size;
  }

  /** Waits for the answers of `shards` to `correlationId`; `started` is when the request went out. */
  public async wait(correlationId: string, shards: number[], deadline: number, started: number, signal?: AbortSignal): Promise<Gathered> {
    const answers = new Map<number, unknown>();
    const errors = new Map<number, ReplyError>();
    const expected = new Set(shards);
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    await new Promise<void>(resolve => {
      this.pending.set(correlationId, { expected, answers, errors, done: resolve });
      timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
      onAbort = () => resolve();
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    clearTimeout(timer);
    if (onAbort) {
      signal?.removeEventListener('abort', onAbort);
    }
    this.pending.delete(correlationId);
    return {
      correlationId,
      answers,
      errors,
      missing: [...expected].sort((a, b) => a - b),
      complete: expected.size === 0,
      elapsedMs: Date.now() - started,
    };
  }
}

/** The shards a target reaches. */
export function shardsOf(target: ShardTarget, shardCount: number): number[] {
  return target === ALL_SHARDS ? Array.from({ length: shardCount }, (_, i) => i) : [target];
}

export interface RequestClientOptions {
  readonly messaging: BotMessaging;
  readonly topicArn: string;
  /** The requester's own queue: answers are sent there. */
  readonly replyTo: string;
  readonly shardCount: number;
  /**
   * Who reads `replyTo`. `consumer`: a loop the caller runs anyway (a shard's queue consumer) hands replies
   * to `pending.deliver`. `poll`: the client reads the queue itself while a request waits (a Lambda).
   */
  readonly inbox: 'consumer' | 'poll';
}

/**
 * Asks one shard or every shard and gathers the answers: used by the shards and by the command API
 * Lambda alike.
 */
export class RequestClient {
  public readonly pending = new PendingReplies();

  constructor(private readonly options: RequestClientOptions) {}

  /** Publishes `type` to `target` and waits up to `timeoutMs` for the answers. */
  public async request(type: string, payload: unknown, target: ShardTarget, timeoutMs: number, signal?: AbortSignal): Promise<Gathered> {
    if (target !== ALL_SHARDS && (!Number.isInteger(target) || target < 0 || target >= this.options.shardCount)) {
      throw new EnvelopeError('invalid_envelope', `shard ${target} does not exist; shards are 0 to ${this.options.shardCount - 1}`);
    }
    const started = Date.now();
    const envelope = newRequest(type, payload, { replyTo: this.options.replyTo, timeoutMs });
    const waiting = this.pending.wait(envelope.correlationId, shardsOf(target, this.options.shardCount), envelope.deadline!, started, signal);
    const stopPolling = new AbortController();
    try {
      await this.options.messaging.publish(this.options.topicArn, envelope, target);
      if (this.options.inbox === 'poll') {
        void this.poll(envelope.deadline!, stopPolling.signal);
      }
      return await waiting;
    } catch (err) {
      this.pending.cancel(envelope.correlationId);
      throw err;
    } finally {
      stopPolling.abort();
    }
  }

  /** Publishes a command that takes no answer. */
  public async tell(type: string, payload: unknown, target: ShardTarget, timeoutMs = 60_000): Promise<string> {
    const envelope = newRequest(type, payload, { timeoutMs });
    await this.options.messaging.publish(this.options.topicArn, envelope, target);
    return envelope.correlationId;
  }

  /**
   * Reads the reply queue until `deadline` or no request waits. Replies for other requesters on the same
   * queue (another Lambda invocation) are made visible again at once; replies nobody can want any more
   * (older than the longest deadline) and bodies that are not replies are deleted.
   */
  private async poll(deadline: number, signal: AbortSignal): Promise<void> {
    const { messaging, replyTo } = this.options;
    while (!signal.aborted && this.pending.size > 0 && Date.now() < deadline) {
      const waitSeconds = Math.min(20, Math.max(1, Math.ceil((deadline - Date.now()) / 1000)));
      let messages;
      try {
        // Short visibility: a receive cut off when the request ends (or the function freezes) may already
        // have taken another invocation's replies; they come back in 2 s rather than the queue's 30.
        messages = await messaging.receive(replyTo, { waitSeconds, signal, visibilitySeconds: 2 });
      } catch (err) {
        if (signal.aborted) {
          return;
        }
        await sleep(200);
        continue;
      }
      let released = false;
      for (const message of messages) {
        let keep = false;
        try {
          const parsed = parseMessage(message.body);
          keep = parsed.kind === 'reply' && !this.pending.deliver(parsed.reply) && Date.now() - message.sentAt < STALE_REPLY_MS;
        } catch {
          keep = false;
        }
        if (keep) {
          released = true;
          await messaging.release(replyTo, message.receiptHandle, 0).catch(() => undefined);
        } else {
          await messaging.delete(replyTo, message.receiptHandle).catch(() => undefined);
        }
      }
      if (released) {
        // Someone else's replies went back to the queue: let their owner take them.
        await sleep(20);
      }
    }
  }
}

/** A reply this old outlives any request's deadline (ENVELOPE_LIMITS.maxDeadlineMs) with margin. */
const STALE_REPLY_MS = 6 * 60_000;
