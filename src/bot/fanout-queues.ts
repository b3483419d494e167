import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { acknowledgeControl, acknowledgeNag } from '../private/nag';
import { checkInteger, checkSeconds, invalidProp } from '../private/validation';

/** SQS keeps a message at most 14 days (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html). */
const MAX_RETENTION_SECONDS = 1_209_600;
/** A message is invisible for at most 12 hours after a receive (same page). */
const MAX_VISIBILITY_SECONDS = 43_200;

/**
 * Properties of a FanoutQueues.
 */
export interface FanoutQueuesProps {
  /**
   * The KMS key that encrypts the topic. A customer managed key must let SNS use it, and publishers need
   * `kms:GenerateDataKey*` and `kms:Decrypt` on it (`grantPublish` adds both).
   * @default - the AWS managed key `alias/aws/sns`, which publishers of this account may use without a grant
   */
  readonly topicEncryptionKey?: kms.IKey;
  /**
   * Receives of a message before it moves to its queue's dead-letter queue.
   * @default 5
   */
  readonly maxReceiveCount?: number;
  /**
   * How long a received message stays invisible to other consumers before it is delivered again.
   * @default Duration.seconds(30)
   */
  readonly visibilityTimeout?: Duration;
  /**
   * How long a queue keeps a message nobody received.
   * @default Duration.days(1)
   */
  readonly retentionPeriod?: Duration;
  /**
   * A topic notified when a dead-letter alarm goes into alarm and when it recovers.
   * @default - no notification; the alarms are still visible in the console
   */
  readonly alarmTopic?: sns.ITopic;
}

/**
 * How one queue of a FanoutQueues is made.
 */
export interface FanoutQueueOptions {
  /**
   * Subscribe the queue to the topic. A queue that is only ever sent to directly (a reply queue, a work
   * queue) sets false.
   * @default true
   */
  readonly subscribe?: boolean;
  /**
   * Which messages of the topic reach the queue, by message attribute, e.g.
   * `{ shard: sns.SubscriptionFilter.stringFilter({ allowlist: ['3', 'all'] }) }`. Only with `subscribe`.
   * @default - every message of the topic
   */
  readonly filterPolicy?: { [attribute: string]: sns.SubscriptionFilter };
  /**
   * The queue's name.
   * @default - a name CloudFormation generates
   */
  readonly queueName?: string;
  /**
   * Give the queue a dead-letter queue (and an alarm on it). Only a queue whose messages may be lost
   * without harm sets false, such as a reply queue whose stale answers nobody waits for.
   * @default true
   */
  readonly deadLetterQueue?: boolean;
  /**
   * The dead-letter queue's name.
   * @default - a name CloudFormation generates
   */
  readonly deadLetterQueueName?: string;
  /**
   * Receives before a message moves to the dead-letter queue.
   * @default - `maxReceiveCount` of the FanoutQueues
   */
  readonly maxReceiveCount?: number;
  /**
   * How long a received message stays invisible before it is delivered again.
   * @default - `visibilityTimeout` of the FanoutQueues
   */
  readonly visibilityTimeout?: Duration;
  /**
   * How long the queue keeps a message nobody received.
   * @default - `retentionPeriod` of the FanoutQueues
   */
  readonly retentionPeriod?: Duration;
  /**
   * What the queue is for, in the dead-letter alarm's description.
   * @default - the queue's construct path
   */
  readonly purpose?: string;
}

/** One queue of a FanoutQueues, with its dead-letter queue and alarm. */
export interface FanoutQueue {
  /** The queue (encrypted with SQS-managed keys, TLS required). */
  readonly queue: sqs.Queue;
  /**
   * Where messages go after `maxReceiveCount` receives (kept 14 days).
   * @default - none, when the queue was made with `deadLetterQueue: false`
   */
  readonly deadLetterQueue?: sqs.Queue;
  /**
   * In alarm while the dead-letter queue holds a message.
   * @default - none, when the queue was made with `deadLetterQueue: false`
   */
  readonly deadLetterAlarm?: cloudwatch.Alarm;
  /**
   * The queue's subscription to the topic.
   * @default - none, when the queue was made with `subscribe: false`
   */
  readonly subscription?: sns.Subscription;
}

/**
 * One SNS topic fanned out to SQS queues, each chosen by a filter policy on message attributes: the
 * messaging of `ShardedBot` (one queue per shard), reusable for domain events (one queue per consumer).
 *
 * The topic is encrypted (the AWS managed SNS key unless one is given) and accepts only TLS. Each queue is
 * encrypted with SQS-managed keys, requires TLS, gets its messages raw (the body as published, attributes
 * as SQS message attributes), and has a dead-letter queue kept 14 days with an alarm while it holds
 * anything. SQS-managed encryption lets SNS deliver without a key grant and costs nothing per request.
 *
 * @example
 * const events = new FanoutQueues(this, 'Events');
 * const billing = events.addQueue('Billing', {
 *   filterPolicy: { kind: sns.SubscriptionFilter.stringFilter({ allowlist: ['order.paid'] }) },
 * });
 * events.grantPublish(ordersService.taskDefinition.taskRole);
 * billing.queue.grantConsumeMessages(billingService.taskDefinition.taskRole);
 */
export class FanoutQueues extends Construct {
  /** The topic every message is published to. */
  public readonly topic: sns.Topic;
  /** Every queue added so far, in order. */
  public readonly queues: FanoutQueue[] = [];
  private readonly props: FanoutQueuesProps;

  constructor(scope: Construct, id: string, props: FanoutQueuesProps = {}) {
    super(scope, id);
    this.props = props;
    this.validateSettings(this, '', props);
    this.topic = new sns.Topic(this, 'Topic', {
      masterKey: props.topicEncryptionKey ?? kms.Alias.fromAliasName(this, 'SnsKey', 'alias/aws/sns'),
      enforceSSL: true,
    });
  }

  /**
   * Adds a queue: subscribed to the topic with raw delivery and `filterPolicy` (unless `subscribe` is
   * false), with a dead-letter queue and its alarm (unless `deadLetterQueue` is false).
   */
  public addQueue(id: string, options: FanoutQueueOptions = {}): FanoutQueue {
    this.validateSettings(this, `addQueue('${id}') `, options);
    const subscribe = options.subscribe ?? true;
    if (!subscribe && options.filterPolicy) {
      invalidProp(this, `addQueue('${id}') filterPolicy`, Object.keys(options.filterPolicy).join(', '),
        'has no effect on a queue that is not subscribed', 'remove filterPolicy, or leave subscribe at true');
    }
    const purpose = options.purpose ?? `${this.node.path}/${id}`;
    const deadLetterQueue = options.deadLetterQueue ?? true
      ? this.createDeadLetterQueue(`${id}DeadLetters`, options.deadLetterQueueName, purpose)
      : undefined;
    const queue = new sqs.Queue(this, id, {
      queueName: options.queueName,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: options.visibilityTimeout ?? this.props.visibilityTimeout ?? Duration.seconds(30),
      retentionPeriod: options.retentionPeriod ?? this.props.retentionPeriod ?? Duration.days(1),
      deadLetterQueue: deadLetterQueue
        ? { queue: deadLetterQueue, maxReceiveCount: options.maxReceiveCount ?? this.props.maxReceiveCount ?? 5 }
        : undefined,
    });
    const subscription = subscribe ? this.subscribe(id, queue, options.filterPolicy) : undefined;
    const deadLetterAlarm = deadLetterQueue ? this.createDeadLetterAlarm(`${id}DeadLetterAlarm`, deadLetterQueue, purpose) : undefined;
    const added: FanoutQueue = { queue, deadLetterQueue, deadLetterAlarm, subscription };
    this.queues.push(added);
    return added;
  }

  /** Lets a principal publish to the topic (and use its key, when it is a customer managed one). */
  public grantPublish(grantee: iam.IGrantable): iam.Grant {
    return this.topic.grantPublish(grantee);
  }

  private validateSettings(scope: Construct, prefix: string, settings: FanoutQueuesProps | FanoutQueueOptions): void {
    checkInteger(scope, `${prefix}maxReceiveCount`, settings.maxReceiveCount, 1, 1000);
    if (settings.visibilityTimeout) {
      checkSeconds(scope, `${prefix}visibilityTimeout`, settings.visibilityTimeout, 0, MAX_VISIBILITY_SECONDS, 'SQS visibility timeout');
    }
    if (settings.retentionPeriod) {
      checkSeconds(scope, `${prefix}retentionPeriod`, settings.retentionPeriod, 60, MAX_RETENTION_SECONDS, 'SQS message retention');
    }
  }

  private subscribe(id: string, queue: sqs.Queue, filterPolicy: { [attribute: string]: sns.SubscriptionFilter } | undefined): sns.Subscription {
    this.topic.addSubscription(new subscriptions.SqsSubscription(queue, { rawMessageDelivery: true, filterPolicy }));
    // SqsSubscription names the subscription after the topic, inside the queue.
    const subscription = queue.node.children.find((c): c is sns.Subscription => c instanceof sns.Subscription);
    if (!subscription) {
      throw new Error(`${this.node.path}: the subscription of ${id} was not found`);
    }
    return subscription;
  }

  private createDeadLetterQueue(id: string, queueName: string | undefined, purpose: string): sqs.Queue {
    const queue = new sqs.Queue(this, id, {
      queueName,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.seconds(MAX_RETENTION_SECONDS),
    });
    const reason = `This queue is itself the dead-letter queue of ${purpose}; what lands here is inspected and redriven by an operator, not redelivered again.`;
    acknowledgeNag(queue, 'SQS3', reason);
    acknowledgeControl(queue, 'sqs_dlq_check', reason);
    return queue;
  }

  private createDeadLetterAlarm(id: string, deadLetterQueue: sqs.Queue, purpose: string): cloudwatch.Alarm {
    const alarm = deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' })
      .createAlarm(this, id, {
        alarmDescription: `Messages of ${purpose} were received maxReceiveCount times without being deleted and wait in its dead-letter queue; inspect and redrive them`,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    if (this.props.alarmTopic) {
      const action = new cloudwatchActions.SnsAction(this.props.alarmTopic);
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
    }
    return alarm;
  }
}
