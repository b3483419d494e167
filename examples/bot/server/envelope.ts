import { randomUUID } from 'crypto';
import { z } from 'zod';

/**
 * The message envelope between the command API, the shards and the workers (PROTOCOL.md). A request is
 * published to the bot topic with the SNS message attribute `shard` (a shard id in decimal, or `all`) and
 * reaches the shard queues whose filter policy matches; an answer goes straight to the request's `replyTo`
 * queue with SendMessage.
 */

/** Limits, in one place for the shards, the Lambdas, the stand-ins and the tests. */
export const ENVELOPE_LIMITS = {
  /**
   * Bytes of one envelope as JSON. SNS takes at most 256 KiB per message
   * (https://docs.aws.amazon.com/general/latest/gr/sns.html); a quarter of that bounds what one message
   * can make a shard hold and parse.
   */
  maxBytes: 64 * 1024,
  typeMax: 64,
  correlationIdMax: 128,
  replyToMax: 1024,
  /** A request may ask for an answer at most this far ahead. */
  maxDeadlineMs: 5 * 60_000,
} as const;

/** The SNS message attribute the shard queues filter on. */
export const SHARD_ATTRIBUTE = 'shard';
/** The attribute value that reaches every shard. */
export const ALL_SHARDS = 'all';
/** Where a request goes: one shard id, or every shard. */
export type ShardTarget = number | typeof ALL_SHARDS;

const MessageType = z.string().min(1).max(ENVELOPE_LIMITS.typeMax).regex(/^[a-z][a-z0-9_.-]*$/, 'lower-case letters, digits, _ . -');
const CorrelationId = z.string().min(1).max(ENVELOPE_LIMITS.correlationIdMax).regex(/^[A-Za-z0-9_.:-]+$/, 'letters, digits, _ . : -');
/** Queue URLs only: a reply is sent nowhere else. */
const ReplyTo = z.string().max(ENVELOPE_LIMITS.replyToMax).regex(/^https?:\/\/[^\s/]+\/\d{12}\/[A-Za-z0-9_-]{1,80}$/, 'an SQS queue URL');

/** A request or a one-way command. */
export const Envelope = z.strictObject({
  type: MessageType,
  correlationId: CorrelationId,
  replyTo: ReplyTo.optional(),
  /** Epoch milliseconds after which the request is dropped unanswered. */
  deadline: z.number().int().positive().optional(),
  payload: z.unknown(),
});
export type Envelope = z.infer<typeof Envelope>;

/** An error carried by a reply instead of a payload. */
export const ReplyError = z.strictObject({
  code: z.string().max(64),
  message: z.string().max(1024),
});
export type ReplyError = z.infer<typeof ReplyError>;

/** The answer to a request: `type` is the request's type with `.reply` appended. */
export const Reply = z.union([
  z.strictObject({ type: MessageType, correlationId: CorrelationId, shard: z.number().int().min(-1), payload: z.unknown() }),
  z.strictObject({ type: MessageType, correlationId: CorrelationId, shard: z.number().int().min(-1), error: ReplyError }),
]);
export type Reply = z.infer<typeof Reply>;

/** `shard` of a reply sent by something that is not a shard (a worker). */
export const NOT_A_SHARD = -1;

export const REPLY_SUFFIX = '.reply';

/** The reply to a request of `type` and `correlationId`, carrying a payload or an error. */
export function replyOf(
  request: { type: string; correlationId: string }, shard: number, result: { payload: unknown } | { error: ReplyError },
): Reply {
  return { type: request.type + REPLY_SUFFIX, correlationId: request.correlationId, shard, ...result };
}

export function isReplyType(type: string): boolean {
  return type.endsWith(REPLY_SUFFIX);
}

/** Why a message body was refused; the error a reply carries when it can be answered. */
export class EnvelopeError extends Error {
  constructor(public readonly code: 'bad_json' | 'invalid_envelope' | 'too_large' | 'expired', message: string) {
    super(message);
    this.name = 'EnvelopeError';
  }
}

/** What a received body turned out to be. */
export type Parsed =
  | { kind: 'request'; envelope: Envelope }
  | { kind: 'reply'; reply: Reply };

/**
 * Parses and validates a message body. Throws EnvelopeError with a message that says what is wrong;
 * never anything else.
 */
export function parseMessage(body: string): Parsed {
  if (Buffer.byteLength(body) > ENVELOPE_LIMITS.maxBytes) {
    throw new EnvelopeError('too_large', `message is ${Buffer.byteLength(body)} bytes; the limit is ${ENVELOPE_LIMITS.maxBytes}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new EnvelopeError('bad_json', 'message body is not JSON');
  }
  const type = typeof json === 'object' && json !== null ? (json as { type?: unknown }).type : undefined;
  if (typeof type === 'string' && isReplyType(type)) {
    const reply = Reply.safeParse(json);
    if (!reply.success) {
      throw new EnvelopeError('invalid_envelope', describe(reply.error));
    }
    return { kind: 'reply', reply: reply.data };
  }
  const envelope = Envelope.safeParse(json);
  if (!envelope.success) {
    throw new EnvelopeError('invalid_envelope', describe(envelope.error));
  }
  return { kind: 'request', envelope: envelope.data };
}

/**
 * The `correlationId` and `replyTo` of a body that failed validation, when both are usable, so that the
 * sender can still be told what was wrong.
 */
export function answerAddress(body: string): { correlationId: string; replyTo: string; type: string } | undefined {
  if (Buffer.byteLength(body) > ENVELOPE_LIMITS.maxBytes) {
    // Read only the head of an oversized body: enough for the address fields when they come first.
    body = Buffer.from(body).subarray(0, 4096).toString();
  }
  const pick = (name: string) => new RegExp(`"${name}"\\s*:\\s*"([^"\\\\]{1,1024})"`).exec(body)?.[1];
  const correlationId = CorrelationId.safeParse(pick('correlationId'));
  const replyTo = ReplyTo.safeParse(pick('replyTo'));
  const type = MessageType.safeParse(pick('type'));
  if (!correlationId.success || !replyTo.success) {
    return undefined;
  }
  return { correlationId: correlationId.data, replyTo: replyTo.data, type: type.success ? type.data : 'unknown' };
}

/** A new request envelope; `timeoutMs` sets its deadline. */
export function newRequest(type: string, payload: unknown, options: { replyTo?: string; timeoutMs?: number } = {}): Envelope {
  return Envelope.parse({
    type,
    correlationId: randomUUID(),
    replyTo: options.replyTo,
    deadline: options.timeoutMs === undefined ? undefined : Date.now() + options.timeoutMs,
    payload,
  });
}

/** Serializes an envelope or reply, refusing one over the size limit with a clear message. */
export function encode(message: Envelope | Reply): string {
  const body = JSON.stringify(message);
  const bytes = Buffer.byteLength(body);
  if (bytes > ENVELOPE_LIMITS.maxBytes) {
    throw new EnvelopeError('too_large', `${message.type} is ${bytes} bytes as JSON; the limit is ${ENVELOPE_LIMITS.maxBytes}`);
  }
  return body;
}

function describe(error: z.ZodError): string {
  return error.issues.slice(0, 3).map(issue => `${issue.path.join('.') || 'body'}: ${issue.message}`).join('; ');
}
