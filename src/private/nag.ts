import { CfnResource, Stack, Validations } from 'aws-cdk-lib';
import { CfnPolicy } from 'aws-cdk-lib/aws-iam';
import { IConstruct } from 'constructs';

/**
 * Acknowledges a cdk-nag AwsSolutions finding on exactly one resource (and what it contains),
 * with a full-sentence reason. Acknowledgments are construct metadata that cdk-nag reads; the
 * library never needs cdk-nag at run time.
 */
export function acknowledgeNag(resource: IConstruct, rule: string, reason: string): void {
  const id = `AwsSolutions-${rule}`;
  if (id.split('::').length > 2) {
    // Finding IDs that quote ARNs (`IAM4[Policy::arn:<AWS::Partition>:...]`) hold more '::' than
    // Validations.acknowledge accepts; record them under the same metadata key it uses.
    resource.node.addMetadata(Validations.ACKNOWLEDGED_RULES_METADATA_KEY, { [id]: reason });
    return;
  }
  Validations.of(resource).acknowledge({ id, reason });
}

/**
 * Acknowledges cdk-nag's IAM5 finding for each wildcard action and resource of `policy` as it stands now,
 * naming each one the way the rule does (`IAM5[Action::s3:List*]`, `IAM5[Resource::<Bucket.Arn>/*]`), so a
 * wildcard added later is still reported.
 */
export function acknowledgeWildcards(policy: CfnPolicy, reason: string): void {
  const document = Stack.of(policy).resolve(policy.policyDocument);
  const findings = new Set<string>();
  for (const statement of document?.Statement ?? []) {
    if (statement.Effect !== 'Allow') {
      continue;
    }
    for (const action of ([] as string[]).concat(statement.Action ?? [])) {
      if (action.includes('*')) {
        findings.add(`Action::${action}`);
      }
    }
    for (const resource of ([] as unknown[]).concat(statement.Resource ?? [])) {
      const flat = flattenReference(resource);
      if (flat.includes('*')) {
        findings.add(`Resource::${flat}`);
      }
    }
  }
  for (const finding of findings) {
    acknowledgeNag(policy, `IAM5[${finding}]`, reason);
  }
}

/** A CloudFormation reference as cdk-nag prints it: `<Logical.Arn>`, `<AWS::Partition>`, joins flattened. */
function flattenReference(node: any): string {
  if (node === undefined) {
    return '';
  }
  if (typeof node === 'string') {
    return node.replace(/\${/g, '<').replace(/}/g, '>');
  }
  if (node['Fn::Join']) {
    const [delimiter, items] = node['Fn::Join'];
    return items.map(flattenReference).join(delimiter);
  }
  if (node['Fn::Sub']) {
    return flattenReference(node['Fn::Sub']);
  }
  if (node['Fn::GetAtt']) {
    const [resource, attribute] = node['Fn::GetAtt'];
    return `<${flattenReference(resource)}.${flattenReference(attribute)}>`;
  }
  if (node['Fn::ImportValue']) {
    return flattenReference(node['Fn::ImportValue']);
  }
  if (node.Ref) {
    return `<${flattenReference(node.Ref)}>`;
  }
  return JSON.stringify(node);
}

/** Construct metadata type under which {@link acknowledgeControl} records each acknowledged rule and its reason. */
export const ACKNOWLEDGED_CONTROLS_METADATA_KEY = 'cdk-realtime:acknowledged-controls';

/**
 * Acknowledges a finding of AWS Control Tower's proactive controls (cfn-guard rules) on exactly one
 * CloudFormation resource, with a full-sentence reason. `ruleName` is the guard rule the finding names
 * (`s3_bucket_logging_enabled_check` for CT.S3.PR.2), not the control ID.
 *
 * The resource's template metadata gets cfn-guard's suppression convention, `guard.SuppressedRules`, plus the
 * reason under `guard.SuppressionReasons`; the construct gets the same pair as metadata, which the cloud
 * assembly keeps. The Control Tower rules themselves ignore `SuppressedRules`, so the checker that runs them
 * must drop a finding only when the resource carries both the rule and its reason.
 */
export function acknowledgeControl(resource: IConstruct, ruleName: string, reason: string): void {
  const cfn = CfnResource.isCfnResource(resource) ? resource : resource.node.defaultChild;
  if (!cfn || !CfnResource.isCfnResource(cfn)) {
    throw new Error(`acknowledgeControl: ${resource.node.path} is not a CloudFormation resource and has no default one; pass the resource the finding names`);
  }
  if (!/^[A-Za-z0-9_]+$/.test(ruleName)) {
    throw new Error(`acknowledgeControl: '${ruleName}' is not a guard rule name; pass the rule the finding names (e.g. s3_bucket_logging_enabled_check for CT.S3.PR.2)`);
  }
  if (!/\S.*\.$/s.test(reason.trim())) {
    throw new Error(`acknowledgeControl: the reason for ${ruleName} on ${cfn.node.path} must be a full sentence ending with a period`);
  }
  const guard = { ...cfn.getMetadata('guard') };
  guard.SuppressedRules = [...new Set([...(guard.SuppressedRules ?? []), ruleName])];
  guard.SuppressionReasons = { ...guard.SuppressionReasons, [ruleName]: reason.trim() };
  cfn.addMetadata('guard', guard);
  cfn.node.addMetadata(ACKNOWLEDGED_CONTROLS_METADATA_KEY, { [ruleName]: reason.trim() });
}
