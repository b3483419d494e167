import { IPolicyValidationPlugin, PolicyValidationPluginReport, Stack } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { IConstruct } from 'constructs';

/** A finding of cdk-nag's AwsSolutions pack that nobody acknowledged. */
export interface NagFinding {
  readonly rule: string;
  readonly level: 'error' | 'warning';
  readonly resources: string[];
  readonly description: string;
}

/**
 * Runs cdk-nag's AwsSolutions pack over a scope and returns the unacknowledged findings.
 * cdk-nag 3 is a policy-validation plugin; on aws-cdk-lib 2.257 the framework cannot hand it the
 * construct tree, so we call `validateScope` directly.
 */
export function nagFindings(scope: IConstruct): NagFinding[] {
  const report = new AwsSolutionsChecks(scope).validateScope(scope);
  return report.violations.map(v => ({
    rule: v.ruleName,
    level: v.severity === 'warning' ? 'warning' : 'error',
    resources: v.violatingResources.map(r => r.constructPath ?? r.resourceLogicalId ?? '?'),
    description: v.description.split('\n')[0],
  }));
}

/**
 * A validation plugin for `cdk synth`: runs the AwsSolutions pack over the app given at construction and
 * fails synthesis on any unacknowledged finding.
 */
export class AwsSolutionsPlugin implements IPolicyValidationPlugin {
  public readonly name = 'AwsSolutions';
  constructor(private readonly scope: IConstruct) {}

  public validate(): PolicyValidationPluginReport {
    return new AwsSolutionsChecks(this.scope).validateScope(this.scope);
  }
}

/** The stacks directly or indirectly under a scope. */
export function stacksOf(scope: IConstruct): Stack[] {
  return scope.node.findAll().filter((c): c is Stack => Stack.isStack(c));
}
