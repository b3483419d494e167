import { Validations } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/** Acknowledges one cdk-nag AwsSolutions finding on exactly one resource, with a full-sentence reason. */
export function acknowledge(resource: IConstruct, rule: string, reason: string): void {
  Validations.of(resource).acknowledge({ id: `AwsSolutions-${rule}`, reason });
}
