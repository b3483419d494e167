import { App, CfnResource, Stack } from 'aws-cdk-lib';
import { controlTowerFindings } from '../../examples/shared/control-tower';

/**
 * The unacknowledged findings of AWS Control Tower's proactive controls (the cfn-guard rules the examples
 * are checked with) on the resources of `stack` whose construct path starts with `prefix`, as
 * `CT.S3.PR.2 s3_bucket_logging_enabled_check on Test/Service/AccessLogs/Resource`. Synthesizes the app.
 */
export function controlFindings(stack: Stack, prefix: string): string[] {
  const artifact = (stack.node.root as App).synth().getStackByName(stack.stackName);
  return controlTowerFindings([artifact.templateFullPath]).flatMap(f => f.resources
    // cfn-guard sometimes adds a violation without a resource next to the real one (seen with CT.KMS.PR.3).
    .map(r => (r.constructPath ?? r.logicalId ?? '').replace(/^\//, ''))
    .filter(p => p.startsWith(prefix))
    .map(p => `${f.control} ${f.rule} on ${p}`))
    .sort();
}

/** The Control Tower acknowledgements under `prefix`: construct path of the resource → acknowledged guard rules, sorted. */
export function acknowledgedControls(stack: Stack, prefix: string): Record<string, string[]> {
  return Object.fromEntries(stack.node.findAll()
    .filter((c): c is CfnResource => CfnResource.isCfnResource(c) && c.node.path.startsWith(prefix))
    .map(c => [c.node.path, Object.keys(c.getMetadata('guard')?.SuppressionReasons ?? {}).sort()] as const)
    .filter(([, rules]) => rules.length > 0));
}

/** The reason given for acknowledging `rule` on the resource at `path`. */
export function controlReason(stack: Stack, path: string, rule: string): string | undefined {
  const resource = stack.node.findAll().find(c => c.node.path === path);
  return resource && CfnResource.isCfnResource(resource) ? resource.getMetadata('guard')?.SuppressionReasons?.[rule] : undefined;
}
