import { RemovalPolicy, Resource, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/**
 * How long the log groups the constructs create keep their events unless `logRetention` says otherwise:
 * a year, so the logs of a public-facing system still cover an incident found months later (and the
 * least that AWS Control Tower's CT.CLOUDWATCH.PR.2 accepts); CloudWatch Logs storage costs little next
 * to ingestion, which retention does not change.
 */
export const DEFAULT_LOG_RETENTION = logs.RetentionDays.ONE_YEAR;

/** The statement ID under which a key created in the app lets CloudWatch Logs use it. */
const LOGS_STATEMENT_SID = 'CloudWatchLogsOfThisAccountAndRegion';

/** What a construct's `logRetention` and `logEncryptionKey` props ask of every log group it creates. */
export interface LogGroupSettings {
  /** @default DEFAULT_LOG_RETENTION */
  readonly retention?: logs.RetentionDays;
  /** Encrypts the events; CloudWatch Logs' own (AWS-owned) key when undefined. */
  readonly encryptionKey?: kms.IKey;
}

/** A log group that a construct creates and owns. */
export interface ConstructLogGroupProps extends LogGroupSettings {
  readonly removalPolicy: RemovalPolicy;
}

/**
 * A log group kept `retention` (a year by default) and encrypted with `encryptionKey` when one is given,
 * whose key policy is first made to admit CloudWatch Logs (see {@link allowLogsToUse}).
 */
export function constructLogGroup(scope: Construct, id: string, props: ConstructLogGroupProps): logs.LogGroup {
  if (props.encryptionKey) {
    allowLogsToUse(props.encryptionKey);
  }
  return new logs.LogGroup(scope, id, {
    retention: props.retention ?? DEFAULT_LOG_RETENTION,
    encryptionKey: props.encryptionKey,
    removalPolicy: props.removalPolicy,
  });
}

/**
 * CloudWatch Logs encrypts a log group with a KMS key only if the key policy lets the service principal
 * of the key's region use it; otherwise creating the log group fails. For a key created in this app,
 * adds the statement AWS documents (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html):
 * `logs.<region>.amazonaws.com` may use the key for log groups of this account and region, named by the
 * `kms:EncryptionContext:aws:logs:arn` condition (a wildcard, since naming a log group of the same stack
 * would make the key and the log group depend on each other). It is added once per key, and not at all
 * when the policy already admits that principal. An imported key's policy cannot be changed from here:
 * it must already allow this, as the props that take a key say.
 */
export function allowLogsToUse(key: kms.IKey): void {
  if (!Resource.isOwnedResource(key)) {
    return;
  }
  const stack = Stack.of(key);
  const principal = new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`);
  if (admits(key, principal)) {
    return;
  }
  key.addToResourcePolicy(new iam.PolicyStatement({
    sid: LOGS_STATEMENT_SID,
    principals: [principal],
    actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
    resources: ['*'],
    conditions: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': `arn:${stack.partition}:logs:${stack.region}:${stack.account}:log-group:*` } },
  }));
}

/** Whether the key's policy (as it stands) already has an Allow statement for `principal` that lets it generate data keys. */
function admits(key: kms.IKey, principal: iam.ServicePrincipal): boolean {
  const cfn = key.node.defaultChild;
  const policy = cfn instanceof kms.CfnKey ? cfn.keyPolicy : undefined;
  if (!(policy instanceof iam.PolicyDocument)) {
    return false;
  }
  const stack = Stack.of(key);
  const wanted = JSON.stringify(stack.resolve(principal.policyFragment.principalJson.Service));
  const document = stack.resolve(policy.toJSON());
  return (document?.Statement ?? []).some((s: any) => {
    const services = s.Principal?.Service;
    const actions = ([] as string[]).concat(s.Action ?? []);
    return s.Effect === 'Allow' && services !== undefined
      && JSON.stringify(([] as unknown[]).concat(services)) === wanted
      && actions.some(a => a === 'kms:*' || a === 'kms:GenerateDataKey*');
  });
}
