import { SecretValue } from 'aws-cdk-lib';
import { Construct } from 'constructs';

/**
 * How a front door closes a RealtimeFargateService's load balancer to everything but CloudFront.
 */
export interface OriginProtectionOptions {
  /** The construct that fronts the service (for error messages and rule descriptions). */
  readonly frontDoor: Construct;

  /**
   * The ID of the managed prefix list `com.amazonaws.global.cloudfront.origin-facing` in the service's
   * region. It is admitted on the forwarding listener's port only (a reference to it counts 55 rules
   * against the security group's quota of 60).
   *
   * @default - looked up in the library's table by the service's stack region, without AWS calls
   */
  readonly cloudFrontPrefixListId?: string;

  /**
   * A header every request from the front door carries; requests without it are answered 403.
   *
   * @default - no header check
   */
  readonly headerName?: string;

  /**
   * The secret value of `headerName`, e.g. `secret.secretValue` of a Secrets Manager secret: it is
   * resolved by CloudFormation into the listener rule at deploy time, never written into the template.
   * Keep the secret in the service's stack (or one it depends on) so references between stacks flow one
   * way, from the front door's stack to the service's.
   *
   * @default - no header check
   */
  readonly headerValue?: SecretValue;
}
