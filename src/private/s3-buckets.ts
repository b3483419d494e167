import * as s3 from 'aws-cdk-lib/aws-s3';
import { acknowledgeControl } from './nag';

/**
 * Sends the bucket's object events (created, deleted, expired) to the account's default EventBridge bus,
 * where a rule of the account or of a central security account can watch them
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventBridge.html). Set on the CloudFormation
 * bucket itself: the L2 `eventBridgeEnabled` would add a custom-resource Lambda function to write it.
 */
export function enableEventBridgeNotifications(bucket: s3.Bucket): void {
  const cfn = bucket.node.defaultChild as s3.CfnBucket;
  cfn.notificationConfiguration = { eventBridgeConfiguration: { eventBridgeEnabled: true } };
}

/**
 * Acknowledges the Control Tower findings that do not fit a bucket the construct created to receive access
 * logs: server access logging of itself (CT.S3.PR.2) and Object Lock (CT.S3.PR.9).
 */
export function acknowledgeAccessLogsBucketControls(bucket: s3.IBucket): void {
  acknowledgeControl(bucket, 's3_bucket_logging_enabled_check',
    'This bucket is the destination of access logs; logging its own access would log into itself.');
  acknowledgeControl(bucket, 's3_bucket_object_lock_enabled_check',
    'These access logs are operational records that a lifecycle rule expires after 90 days; write-once retention belongs in the account\'s central log archive, and Object Lock here would either hold the logs past that expiry or, without a default retention period, protect nothing.');
}
