import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';

/**
 * How a front door closes a RealtimeFargateService's load balancer to everything but itself.
 */
export interface OriginProtectionOptions {
  /** The construct that fronts the service (for error messages and rule descriptions). */
  readonly frontDoor: Construct;

  /** The only source allowed to reach the listener ports, e.g. CloudFront's origin-facing prefix list. */
  readonly peer: ec2.IPeer;

  /**
   * A header every request from the front door carries; requests without it are answered 403.
   *
   * @default - no header check
   */
  readonly headerName?: string;

  /**
   * The secret value of `headerName`.
   *
   * @default - no header check
   */
  readonly headerValue?: string;
}
