import { CfnMapping, Stack, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { CLOUDFRONT_ORIGIN_FACING_PREFIX_LISTS } from './cloudfront-prefix-list';

/**
 * Default quota of inbound rules, and separately of outbound rules, per security group.
 * https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html#vpc-limits-security-groups
 */
export const DEFAULT_RULES_PER_SECURITY_GROUP = 60;

/** Context key for an account whose rules-per-security-group quota was raised. */
export const RULE_QUOTA_CONTEXT_KEY = 'cdk-realtime:rulesPerSecurityGroup';

/**
 * Weights of AWS-managed prefix lists: a rule that references a prefix list counts as the list's maximum
 * number of entries, not as one rule. CloudFront's origin-facing list weighs 55.
 * https://docs.aws.amazon.com/vpc/latest/userguide/working-with-aws-managed-prefix-lists.html
 */
export const CLOUDFRONT_ORIGIN_FACING_WEIGHT = 55;

const KNOWN_WEIGHTS: Readonly<Record<string, number>> = Object.fromEntries(
  Object.values(CLOUDFRONT_ORIGIN_FACING_PREFIX_LISTS).map(id => [id, CLOUDFRONT_ORIGIN_FACING_WEIGHT]),
);

interface WeighedRule {
  readonly weight: number;
  readonly what: string;
}

/**
 * Fails synthesis when the inbound or the outbound rules of `group` weigh more than the quota of rules per
 * security group, counting each prefix-list reference at the list's weight. AWS would otherwise refuse
 * the deployment with `RulesPerSecurityGroupLimitExceeded`.
 */
export function enforceRuleQuota(group: ec2.ISecurityGroup): void {
  if (!(group instanceof ec2.SecurityGroup)) {
    return;
  }
  group.node.addValidation({
    validate: () => {
      const quota = Number(group.node.tryGetContext(RULE_QUOTA_CONTEXT_KEY) ?? DEFAULT_RULES_PER_SECURITY_GROUP);
      const errors: string[] = [];
      for (const direction of ['inbound', 'outbound'] as const) {
        const rules = rulesOf(group, direction);
        const total = rules.reduce((sum, r) => sum + r.weight, 0);
        if (total > quota) {
          errors.push(`${group.node.path}: its ${direction} rules weigh ${total} (${summarize(rules)}) against the quota of ${quota} rules per security group, `
            + 'so AWS would refuse the deployment with RulesPerSecurityGroupLimitExceeded (a prefix-list reference counts as the list\'s weight; '
            + `CloudFront's origin-facing list weighs ${CLOUDFRONT_ORIGIN_FACING_WEIGHT}); reference each prefix list on one port only, `
            + `split the rules over two security groups, or raise the quota in Service Quotas and set the context value ${RULE_QUOTA_CONTEXT_KEY}`);
        }
      }
      return errors;
    },
  });
}

/** The group's rules in one direction, inline and as separate resources anywhere in the app. */
function rulesOf(group: ec2.SecurityGroup, direction: 'inbound' | 'outbound'): WeighedRule[] {
  const cfn = group.node.defaultChild as ec2.CfnSecurityGroup;
  const stack = Stack.of(group);
  const inline = stack.resolve(direction === 'inbound' ? cfn.securityGroupIngress : cfn.securityGroupEgress) ?? [];
  const rules: WeighedRule[] = (inline as any[]).map(rule => weigh(stack, rule.sourcePrefixListId ?? rule.destinationPrefixListId));
  const separate = group.node.root.node.findAll().filter(c => direction === 'inbound'
    ? c instanceof ec2.CfnSecurityGroupIngress && c.groupId === group.securityGroupId
    : c instanceof ec2.CfnSecurityGroupEgress && c.groupId === group.securityGroupId);
  for (const rule of separate) {
    const prefixList = rule instanceof ec2.CfnSecurityGroupIngress
      ? rule.sourcePrefixListId
      : (rule as ec2.CfnSecurityGroupEgress).destinationPrefixListId;
    rules.push(weigh(Stack.of(rule), prefixList));
  }
  return rules;
}

function weigh(stack: Stack, prefixList: unknown): WeighedRule {
  if (prefixList === undefined) {
    return { weight: 1, what: 'rule' };
  }
  const id = Token.isUnresolved(prefixList) ? stack.resolve(prefixList) : prefixList;
  if (typeof id === 'string' && KNOWN_WEIGHTS[id] !== undefined) {
    return { weight: KNOWN_WEIGHTS[id], what: id };
  }
  // An ID looked up from the region table at deploy time is CloudFront's list in whatever region.
  const findInMap = (id as any)?.['Fn::FindInMap'];
  if (Array.isArray(findInMap) && stack.node.tryFindChild(findInMap[0]) instanceof CfnMapping && findInMap[0] === 'CloudFrontOriginFacingPrefixList') {
    return { weight: CLOUDFRONT_ORIGIN_FACING_WEIGHT, what: 'CloudFront origin-facing list' };
  }
  // A list we cannot weigh counts once; its owner knows its maximum entries.
  return { weight: 1, what: typeof id === 'string' ? id : 'prefix list' };
}

function summarize(rules: WeighedRule[]): string {
  const counts = new Map<string, { n: number; weight: number }>();
  for (const r of rules) {
    const c = counts.get(r.what) ?? { n: 0, weight: r.weight };
    c.n += 1;
    counts.set(r.what, c);
  }
  return [...counts.entries()].map(([what, c]) => (c.weight === 1 ? `${c.n} × ${what}` : `${c.n} × ${what} of weight ${c.weight}`)).join(' + ');
}
