import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import {
  ChangeMessageVisibilityCommand, DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient,
} from '@aws-sdk/client-sqs';
import { encode, Envelope, Reply, SHARD_ATTRIBUTE, ShardTarget } from './envelope';

/** One received queue message. */
export interface QueueMessage {
  readonly body: string;
  readonly receiptHandle: string;
  /** How many times SQS has handed this message out, this time included. */
  readonly receiveCount: number;
  /** Epoch ms the message was sent. */
  readonly sentAt: number;
}

export interface ReceiveOptions {
  /** At most this many messages, 1 to 10. @default 10 */
  readonly max?: number;
  /** Long polling: wait up to this many seconds for a message. @default 20 */
  readonly waitSeconds?: number;
  /** How long what this receive takes stays invisible to others. @default the queue's visibility timeout */
  readonly visibilitySeconds?: number;
  readonly signal?: AbortSignal;
}

export interface MessagingOptions {
  /** A local SNS/SQS stand-in (or any endpoint speaking the same protocols); unset: AWS. */
  readonly endpoint?: string;
  readonly region?: string;
}

/**
 * The bot's SNS and SQS calls, through the AWS SDK. Locally the same calls go to the stand-in in
 * `local/messaging.ts` by setting `endpoint`.
 */
export class BotMessaging {
  private readonly sns: SNSClient;
  private readonly sqs: SQSClient;

  constructor(options: MessagingOptions = {}) {
    const region = options.region ?? process.env.AWS_REGION ?? 'us-east-1';
    const local = options.endpoint
      ? { endpoint: options.endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }
      : {};
    this.sns = new SNSClient({ region, ...local });
    this.sqs = new SQSClient({ region, ...local });
  }

  /** Publishes a request to the bot topic for one shard or all of them. */
  public async publish(topicArn: string, envelope: Envelope, target: ShardTarget): Promise<void> {
    await this.sns.send(new PublishCommand({
      TopicArn: topicArn,
      Message: encode(envelope),
      MessageAttributes: { [SHARD_ATTRIBUTE]: { DataType: 'String', StringValue: String(target) } },
    }));
  }

  /** Sends a message straight to a queue: a reply, or work for the worker. */
  public async send(queueUrl: string, message: Envelope | Reply): Promise<void> {
    await this.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: encode(message) }));
  }

  /** Long-polls a queue: returns as soon as messages arrive, or empty after `waitSeconds`. */
  public async receive(queueUrl: string, options: ReceiveOptions = {}): Promise<QueueMessage[]> {
    const out = await this.sqs.send(new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: options.max ?? 10,
      WaitTimeSeconds: options.waitSeconds ?? 20,
      VisibilityTimeout: options.visibilitySeconds,
      MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp'],
    }), { abortSignal: options.signal });
    return (out.Messages ?? []).map(m => ({
      body: m.Body ?? '',
      receiptHandle: m.ReceiptHandle!,
      receiveCount: Number(m.Attributes?.ApproximateReceiveCount ?? 1),
      sentAt: Number(m.Attributes?.SentTimestamp ?? Date.now()),
    }));
  }

  public async delete(queueUrl: string, receiptHandle: string): Promise<void> {
    await this.sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: receiptHandle }));
  }

  /** Makes a received message visible again after `seconds` (0: at once, for another consumer). */
  public async release(queueUrl: string, receiptHandle: string, seconds: number): Promise<void> {
    await this.sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: seconds }));
  }

  public close(): void {
    this.sns.destroy();
    this.sqs.destroy();
  }
}
