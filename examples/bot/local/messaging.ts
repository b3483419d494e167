import { createHash, randomUUID } from 'crypto';
import * as http from 'http';
import { AddressInfo } from 'net';

/**
 * LOCAL STAND-IN for Amazon SNS and Amazon SQS, for tests and `npm run dev bot` only; in AWS the bot uses
 * the real services. One HTTP server answers the subset of both wire protocols the bot's AWS SDK calls
 * use, so that exactly the same code runs against it by setting the SDK `endpoint`:
 *
 * - SNS, Query protocol (form-encoded POST, XML answers): `Publish` with `MessageAttributes`.
 * - SQS, JSON protocol (`X-Amz-Target: AmazonSQS.*`, AwsJson1_0): `SendMessage`, `ReceiveMessage` with
 *   long polling, `DeleteMessage`, `ChangeMessageVisibility`, `GetQueueUrl`.
 *
 * Semantics kept: subscription filter policies on String message attributes (exact values), raw message
 * delivery, visibility timeout and redelivery, `ApproximateReceiveCount`, and a redrive policy that moves
 * a message to its dead-letter queue when a receive would exceed `maxReceiveCount`. Not kept: ordering
 * guarantees beyond first-in first-out, retention, encryption, IAM, throttling, batch calls.
 */

export const LOCAL_ACCOUNT = '000000000000';
export const LOCAL_REGION = 'us-east-1';

export interface LocalQueueOptions {
  readonly name: string;
  /** SQS default: 30 s. */
  readonly visibilityTimeoutSeconds?: number;
  /** With `deadLetterQueue`: receives before a message moves there. */
  readonly maxReceiveCount?: number;
  readonly deadLetterQueue?: string;
}

export interface LocalSubscription {
  readonly topic: string;
  readonly queue: string;
  /** Attribute name → allowed String values, as an SNS filter policy on message attributes. */
  readonly filterPolicy?: Record<string, string[]>;
  /** SNS default: false (the queue gets the SNS JSON notification around the message). */
  readonly rawMessageDelivery?: boolean;
}

/** SQS's largest message in the JSON protocol the bot sends (SNS allows 256 KiB). */
const MAX_MESSAGE_BYTES = 256 * 1024;
const MAX_REQUEST_BYTES = 1024 * 1024;

interface StoredMessage {
  readonly id: string;
  readonly body: string;
  readonly md5: string;
  readonly sentAt: number;
  receiveCount: number;
  visibleAt: number;
  receiptHandle?: string;
}

class LocalQueue {
  public readonly messages: StoredMessage[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(public readonly options: Required<Pick<LocalQueueOptions, 'name' | 'visibilityTimeoutSeconds'>> & LocalQueueOptions) {}

  public add(body: string): StoredMessage {
    const message: StoredMessage = {
      id: randomUUID(), body, md5: md5(body), sentAt: Date.now(), receiveCount: 0, visibleAt: 0,
    };
    this.messages.push(message);
    this.notify();
    return message;
  }

  public notify(): void {
    for (const wake of this.waiters) {
      wake();
    }
  }

  /** Resolves when something may have become receivable, or after `ms`. */
  public async waitForChange(ms: number, closed: Promise<void>): Promise<void> {
    let wake!: () => void;
    const woken = new Promise<void>(resolve => { wake = resolve; });
    this.waiters.add(wake);
    const timer = setTimeout(wake, ms);
    await Promise.race([woken, closed]);
    clearTimeout(timer);
    this.waiters.delete(wake);
  }

  /** Milliseconds until the next invisible message turns visible, or Infinity. */
  public nextVisibleIn(now: number): number {
    let next = Infinity;
    for (const m of this.messages) {
      if (m.visibleAt > now) {
        next = Math.min(next, m.visibleAt - now);
      }
    }
    return next;
  }

  public byHandle(handle: string): StoredMessage | undefined {
    return this.messages.find(m => m.receiptHandle === handle);
  }

  public remove(message: StoredMessage): void {
    const i = this.messages.indexOf(message);
    if (i >= 0) {
      this.messages.splice(i, 1);
    }
  }
}

class ServiceError extends Error {
  constructor(public readonly status: number, public readonly code: string, message: string, public readonly queryCode?: string) {
    super(message);
  }
}

/** What one stand-in has seen, for tests to assert on. */
export interface MessagingRecord {
  published: number;
  delivered: number;
  /** Messages moved to a dead-letter queue, by source queue. */
  deadLettered: Record<string, number>;
}

export class LocalMessaging {

  /** Starts the stand-in on 127.0.0.1 (`port` 0: any free port). */
  public static async start(port = 0): Promise<LocalMessaging> {
    const server = http.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    const address = server.address() as AddressInfo;
    const messaging = new LocalMessaging(server, `http://127.0.0.1:${address.port}`);
    server.on('request', (req, res) => messaging.handle(req, res));
    return messaging;
  }

  public readonly record: MessagingRecord = { published: 0, delivered: 0, deadLettered: {} };
  private readonly queues = new Map<string, LocalQueue>();
  private readonly topics = new Set<string>();
  private readonly subscriptions: LocalSubscription[] = [];
  private readonly openRequests = new Set<http.ServerResponse>();
  private closing = false;
  private closedResolve!: () => void;
  private readonly closed = new Promise<void>(resolve => { this.closedResolve = resolve; });

  private constructor(private readonly server: http.Server, public readonly endpoint: string) {}

  public createTopic(name: string): string {
    this.topics.add(name);
    return this.topicArn(name);
  }

  public topicArn(name: string): string {
    return `arn:aws:sns:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${name}`;
  }

  public createQueue(options: LocalQueueOptions): string {
    if (options.deadLetterQueue && !this.queues.has(options.deadLetterQueue)) {
      throw new Error(`create the dead-letter queue ${options.deadLetterQueue} before ${options.name}`);
    }
    this.queues.set(options.name, new LocalQueue({ visibilityTimeoutSeconds: 30, ...options }));
    return this.queueUrl(options.name);
  }

  public queueUrl(name: string): string {
    return `${this.endpoint}/${LOCAL_ACCOUNT}/${name}`;
  }

  public subscribe(subscription: LocalSubscription): void {
    if (!this.topics.has(subscription.topic) || !this.queues.has(subscription.queue)) {
      throw new Error(`subscribe: topic ${subscription.topic} or queue ${subscription.queue} does not exist`);
    }
    this.subscriptions.push(subscription);
  }

  /** Bodies of the messages in a queue (visible or not), oldest first. */
  public bodies(queue: string): string[] {
    return this.queue(queue).messages.map(m => m.body);
  }

  public async stop(): Promise<void> {
    this.closing = true;
    this.closedResolve();
    for (const res of this.openRequests) {
      res.destroy();
    }
    await new Promise<void>(resolve => this.server.close(() => resolve()));
  }

  private queue(name: string): LocalQueue {
    const queue = this.queues.get(name);
    if (!queue) {
      throw new ServiceError(400, 'com.amazonaws.sqs#QueueDoesNotExist', `The specified queue ${name} does not exist.`, 'AWS.SimpleQueueService.NonExistentQueue;Sender');
    }
    return queue;
  }

  private queueFromUrl(url: unknown): LocalQueue {
    if (typeof url !== 'string') {
      throw new ServiceError(400, 'com.amazonaws.sqs#InvalidAddress', 'QueueUrl is required.', 'InvalidAddress;Sender');
    }
    const name = /\/(\d{12})\/([A-Za-z0-9_-]{1,80})$/.exec(url)?.[2];
    return this.queue(name ?? url);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.openRequests.add(res);
    res.on('close', () => this.openRequests.delete(res));
    readBody(req).then(async body => {
      const target = req.headers['x-amz-target'];
      if (typeof target === 'string' && target.startsWith('AmazonSQS.')) {
        await this.handleSqs(target.slice('AmazonSQS.'.length), body, res);
      } else if (req.method === 'POST') {
        this.handleSns(body, res);
      } else {
        res.writeHead(404).end();
      }
    }).catch(err => {
      if (!res.headersSent) {
        const status = err instanceof ServiceError ? err.status : 500;
        res.writeHead(status, { 'content-type': 'text/plain' }).end(err.message);
      }
    });
  }

  // ---- SQS (JSON protocol) ----

  private async handleSqs(operation: string, raw: string, res: http.ServerResponse): Promise<void> {
    try {
      let input: any;
      try {
        input = JSON.parse(raw || '{}');
      } catch {
        throw new ServiceError(400, 'com.amazonaws.sqs#InvalidParameterValue', 'The request body is not JSON.', 'InvalidParameterValue;Sender');
      }
      const output = await this.sqsOperation(operation, input, res);
      if (!res.destroyed) {
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' }).end(JSON.stringify(output));
      }
    } catch (err) {
      const e = err instanceof ServiceError ? err : new ServiceError(500, 'com.amazonaws.sqs#InternalError', String(err));
      if (!res.destroyed) {
        res.writeHead(e.status, {
          'content-type': 'application/x-amz-json-1.0',
          ...(e.queryCode ? { 'x-amzn-query-error': e.queryCode } : {}),
        }).end(JSON.stringify({ __type: e.code, message: e.message }));
      }
    }
  }

  private async sqsOperation(operation: string, input: any, res: http.ServerResponse): Promise<object> {
    switch (operation) {
      case 'SendMessage': {
        const queue = this.queueFromUrl(input.QueueUrl);
        const body = input.MessageBody;
        if (typeof body !== 'string' || body.length === 0) {
          throw new ServiceError(400, 'com.amazonaws.sqs#InvalidParameterValue', 'MessageBody is required.', 'InvalidParameterValue;Sender');
        }
        if (Buffer.byteLength(body) > MAX_MESSAGE_BYTES) {
          throw new ServiceError(400, 'com.amazonaws.sqs#InvalidParameterValue',
            `One or more parameters are invalid. Reason: Message must be shorter than ${MAX_MESSAGE_BYTES} bytes.`, 'InvalidParameterValue;Sender');
        }
        const message = queue.add(body);
        return { MessageId: message.id, MD5OfMessageBody: message.md5 };
      }
      case 'ReceiveMessage': {
        const queue = this.queueFromUrl(input.QueueUrl);
        const max = clampInt(input.MaxNumberOfMessages ?? 1, 1, 10, 'MaxNumberOfMessages');
        const waitSeconds = clampInt(input.WaitTimeSeconds ?? 0, 0, 20, 'WaitTimeSeconds');
        const visibility = input.VisibilityTimeout === undefined ? undefined : clampInt(input.VisibilityTimeout, 0, 43_200, 'VisibilityTimeout');
        const deadline = Date.now() + waitSeconds * 1000;
        const gone = new Promise<void>(resolve => res.once('close', () => resolve()));
        const stop = Promise.race([gone, this.closed]);
        for (;;) {
          if (res.destroyed || this.closing) {
            // The caller is gone: take nothing it could not receive.
            return { Messages: [] };
          }
          const messages = this.take(queue, max, visibility);
          const now = Date.now();
          if (messages.length > 0 || now >= deadline) {
            return { Messages: messages };
          }
          await queue.waitForChange(Math.min(deadline - now, queue.nextVisibleIn(now)), stop);
        }
      }
      case 'DeleteMessage': {
        const queue = this.queueFromUrl(input.QueueUrl);
        const message = queue.byHandle(String(input.ReceiptHandle));
        if (message) {
          queue.remove(message);
        }
        return {};
      }
      case 'ChangeMessageVisibility': {
        const queue = this.queueFromUrl(input.QueueUrl);
        const seconds = clampInt(input.VisibilityTimeout, 0, 43_200, 'VisibilityTimeout');
        const message = queue.byHandle(String(input.ReceiptHandle));
        if (!message || message.visibleAt <= Date.now()) {
          throw new ServiceError(400, 'com.amazonaws.sqs#MessageNotInflight', 'The message referred to is not in flight.', 'AWS.SimpleQueueService.MessageNotInflight;Sender');
        }
        message.visibleAt = Date.now() + seconds * 1000;
        queue.notify();
        return {};
      }
      case 'GetQueueUrl': {
        const name = String(input.QueueName);
        this.queue(name);
        return { QueueUrl: this.queueUrl(name) };
      }
      default:
        throw new ServiceError(400, 'com.amazonaws.sqs#UnsupportedOperation', `${operation} is not part of the local stand-in.`, 'AWS.SimpleQueueService.UnsupportedOperation;Sender');
    }
  }

  /** Hands out up to `max` visible messages, moving those past their receive limit to the dead-letter queue. */
  private take(queue: LocalQueue, max: number, visibility: number | undefined): object[] {
    const now = Date.now();
    const out: object[] = [];
    for (const message of [...queue.messages]) {
      if (out.length >= max) {
        break;
      }
      if (message.visibleAt > now) {
        continue;
      }
      const { maxReceiveCount, deadLetterQueue, name } = queue.options;
      if (deadLetterQueue && maxReceiveCount !== undefined && message.receiveCount >= maxReceiveCount) {
        queue.remove(message);
        this.queue(deadLetterQueue).add(message.body);
        this.record.deadLettered[name] = (this.record.deadLettered[name] ?? 0) + 1;
        continue;
      }
      message.receiveCount += 1;
      message.receiptHandle = randomUUID();
      message.visibleAt = now + (visibility ?? queue.options.visibilityTimeoutSeconds) * 1000;
      out.push({
        MessageId: message.id,
        ReceiptHandle: message.receiptHandle,
        MD5OfBody: message.md5,
        Body: message.body,
        Attributes: { ApproximateReceiveCount: String(message.receiveCount), SentTimestamp: String(message.sentAt) },
      });
    }
    return out;
  }

  // ---- SNS (Query protocol) ----

  private handleSns(raw: string, res: http.ServerResponse): void {
    const form = new URLSearchParams(raw);
    const requestId = randomUUID();
    try {
      if (form.get('Action') !== 'Publish') {
        throw new ServiceError(400, 'InvalidAction', `${form.get('Action')} is not part of the local stand-in.`);
      }
      const arn = form.get('TopicArn') ?? '';
      const topic = /^arn:aws:sns:[a-z0-9-]+:\d{12}:([A-Za-z0-9_-]{1,256})$/.exec(arn)?.[1];
      if (!topic || !this.topics.has(topic)) {
        throw new ServiceError(404, 'NotFound', 'Topic does not exist');
      }
      const message = form.get('Message');
      if (!message) {
        throw new ServiceError(400, 'InvalidParameter', 'Invalid parameter: Empty message');
      }
      const attributes = snsAttributes(form);
      const size = Buffer.byteLength(message) + Object.entries(attributes).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
      if (size > MAX_MESSAGE_BYTES) {
        throw new ServiceError(400, 'InvalidParameter', 'Invalid parameter: Message too long');
      }
      const messageId = randomUUID();
      this.record.published += 1;
      for (const sub of this.subscriptions.filter(s => s.topic === topic)) {
        if (!matches(sub.filterPolicy, attributes)) {
          continue;
        }
        const body = sub.rawMessageDelivery ? message : JSON.stringify({
          Type: 'Notification',
          MessageId: messageId,
          TopicArn: arn,
          Message: message,
          Timestamp: new Date().toISOString(),
          MessageAttributes: Object.fromEntries(Object.entries(attributes).map(([k, v]) => [k, { Type: 'String', Value: v }])),
        });
        this.queue(sub.queue).add(body);
        this.record.delivered += 1;
      }
      res.writeHead(200, { 'content-type': 'text/xml' }).end(
        `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>${messageId}</MessageId></PublishResult>` +
        `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></PublishResponse>`);
    } catch (err) {
      const e = err instanceof ServiceError ? err : new ServiceError(500, 'InternalError', String(err));
      res.writeHead(e.status, { 'content-type': 'text/xml' }).end(
        `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>${e.code}</Code>` +
        `<Message>${escapeXml(e.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`);
    }
  }
}

/** `MessageAttributes.entry.N.Name` / `.Value.DataType` / `.Value.StringValue` → name → value (String only). */
function snsAttributes(form: URLSearchParams): Record<string, string> {
  const out: Record<string, string> = {};
  for (let n = 1; n <= 10; n++) {
    const name = form.get(`MessageAttributes.entry.${n}.Name`);
    if (!name) {
      break;
    }
    const type = form.get(`MessageAttributes.entry.${n}.Value.DataType`);
    if (type !== 'String') {
      throw new ServiceError(400, 'ParameterValueInvalid', `The message attribute '${name}' has DataType ${type}; the local stand-in takes String only.`);
    }
    out[name] = form.get(`MessageAttributes.entry.${n}.Value.StringValue`) ?? '';
  }
  return out;
}

/** An SNS filter policy of exact String values: every named attribute must be present with a listed value. */
function matches(policy: Record<string, string[]> | undefined, attributes: Record<string, string>): boolean {
  if (!policy) {
    return true;
  }
  return Object.entries(policy).every(([name, allowed]) => name in attributes && allowed.includes(attributes[name]));
}

function clampInt(value: unknown, min: number, max: number, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ServiceError(400, 'com.amazonaws.sqs#InvalidParameterValue', `Value ${String(value)} for parameter ${name} is invalid. Reason: must be between ${min} and ${max}.`, 'InvalidParameterValue;Sender');
  }
  return n;
}

function md5(body: string): string {
  return createHash('md5').update(body).digest('hex');
}

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, c => `&#${c.charCodeAt(0)};`);
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_REQUEST_BYTES) {
      throw new ServiceError(413, 'RequestEntityTooLarge', 'request body over 1 MiB');
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
