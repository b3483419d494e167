import { Validations } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/**
 * Acknowledges a cdk-nag AwsSolutions finding on exactly one resource (and what it contains),
 * with a full-sentence reason. Acknowledgments are construct metadata that cdk-nag reads; the
 * library never needs cdk-nag at run time.
 */
export function acknowledgeNag(resource: IConstruct, rule: string, reason: string): void {
  Validations.of(resource).acknowledge({ id: `AwsSolutions-${rule}`, reason });
}
