import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

const KEY_ID = 'ExampleKey';

/**
 * How long the examples keep logs, their own and those the constructs create (`logRetention`, whose default
 * is the same year, passed anyway so the examples say it): a year, the least AWS Control Tower's
 * CT.CLOUDWATCH.PR.2 accepts.
 */
export const EXAMPLE_LOG_RETENTION = logs.RetentionDays.ONE_YEAR;

/**
 * The stack's one customer-managed key for its log groups, the example's own and those the constructs create
 * (their `logEncryptionKey`; CloudWatch Logs may use it for log groups of this account and region, Control
 * Tower's CT.CLOUDWATCH.PR.3), and for its alarm topic (CloudWatch may use it to publish alarms). Rotated
 * yearly; grants only for AWS resources. The constructs find the CloudWatch Logs statement below and add no
 * second one.
 */
export function exampleKey(scope: Construct): kms.Key {
  const stack = Stack.of(scope);
  const existing = stack.node.tryFindChild(KEY_ID);
  if (existing) {
    return existing as kms.Key;
  }
  const key = new kms.Key(stack, KEY_ID, {
    description: `Encrypts the log groups and the alarm topic of ${stack.stackName}`,
    enableKeyRotation: true,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  key.addToResourcePolicy(new iam.PolicyStatement({
    sid: 'CloudWatchLogsOfThisAccountAndRegion',
    principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
    actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
    resources: ['*'],
    conditions: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': `arn:${stack.partition}:logs:${stack.region}:${stack.account}:log-group:*` } },
  }));
  key.addToResourcePolicy(new iam.PolicyStatement({
    sid: 'CloudWatchAlarmsToTheEncryptedTopic',
    principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
    actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
    resources: ['*'],
    conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
  }));
  // Control Tower CT.KMS.PR.3: grants only for AWS services acting on AWS resources.
  key.addToResourcePolicy(new iam.PolicyStatement({
    sid: 'GrantsOnlyForAwsResources',
    effect: iam.Effect.DENY,
    principals: [new iam.AnyPrincipal()],
    actions: ['kms:CreateGrant'],
    resources: ['*'],
    conditions: { BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' } },
  }));
  return key;
}

/** A log group the example owns: kept a year (Control Tower CT.CLOUDWATCH.PR.2), encrypted with {@link exampleKey}. */
export function exampleLogGroup(scope: Construct, id: string): logs.LogGroup {
  return new logs.LogGroup(scope, id, {
    retention: EXAMPLE_LOG_RETENTION,
    encryptionKey: exampleKey(scope),
    removalPolicy: RemovalPolicy.DESTROY,
  });
}
