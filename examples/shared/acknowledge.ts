import { Validations } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/** Acknowledges one cdk-nag AwsSolutions finding on exactly one resource, with a full-sentence reason. */
export function acknowledge(resource: IConstruct, rule: string, reason: string): void {
  Validations.of(resource).acknowledge({ id: `AwsSolutions-${rule}`, reason });
}

/**
 * Acknowledges one finding of AWS Control Tower's proactive controls on exactly one resource, by the guard
 * rule the finding names, with a full-sentence reason (the library's own helper, which the checker reads).
 */
export { acknowledgeControl } from '../../src/private/nag';
