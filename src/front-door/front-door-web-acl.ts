import { Stack, Token } from 'aws-cdk-lib';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { checkInteger, invalidProp } from '../private/validation';

/**
 * Props of a `FrontDoorWebAcl`.
 */
export interface FrontDoorWebAclProps {
  /**
   * Requests one client address may make in any 5-minute window before it is blocked (100 to
   * 2,000,000,000). A WebSocket counts once, at its upgrade, however many frames it carries.
   *
   * @default 2000
   */
  readonly rateLimitPer5Minutes?: number;

  /**
   * AWS managed rule groups to apply, by name (vendor `AWS`), in this order after the rate rule.
   *
   * @default ['AWSManagedRulesAmazonIpReputationList', 'AWSManagedRulesCommonRuleSet', 'AWSManagedRulesKnownBadInputsRuleSet']
   */
  readonly managedRuleGroups?: string[];
}

/**
 * A WAF web ACL for a CloudFront distribution: a rate-based rule per client address, then AWS managed
 * rules (IP reputation, the common rule set and known bad inputs), metrics and sampled requests on each.
 * CloudFront web ACLs exist only in us-east-1, so this construct must be in a us-east-1 stack; pass its
 * `webAclArn` to `CdnFrontDoor` (use `crossRegionReferences` when the front door's stack is elsewhere).
 */
export class FrontDoorWebAcl extends Construct {
  /** The web ACL. */
  public readonly webAcl: wafv2.CfnWebACL;
  /** Its ARN, for `CdnFrontDoorProps.webAclArn`. */
  public readonly webAclArn: string;

  constructor(scope: Construct, id: string, props: FrontDoorWebAclProps = {}) {
    super(scope, id);
    const region = Stack.of(this).region;
    if (!Token.isUnresolved(region) && region !== 'us-east-1') {
      invalidProp(this, 'stack region', region, 'cannot hold a CloudFront web ACL (scope CLOUDFRONT exists only in us-east-1)',
        'create FrontDoorWebAcl in a us-east-1 stack and pass its webAclArn to CdnFrontDoor with crossRegionReferences');
    }
    const limit = props.rateLimitPer5Minutes ?? 2000;
    checkInteger(this, 'rateLimitPer5Minutes', limit, 100, 2_000_000_000);
    const groups = props.managedRuleGroups ?? ['AWSManagedRulesAmazonIpReputationList', 'AWSManagedRulesCommonRuleSet', 'AWSManagedRulesKnownBadInputsRuleSet'];
    if (new Set(groups).size !== groups.length) {
      invalidProp(this, 'managedRuleGroups', groups.join(', '), 'names a rule group twice', 'list each rule group once');
    }

    const visibility = (metricName: string): wafv2.CfnWebACL.VisibilityConfigProperty => ({
      cloudWatchMetricsEnabled: true,
      sampledRequestsEnabled: true,
      metricName,
    });
    this.webAcl = new wafv2.CfnWebACL(this, 'WebAcl', {
      scope: 'CLOUDFRONT',
      defaultAction: { allow: {} },
      visibilityConfig: visibility('FrontDoor'),
      rules: [
        {
          name: 'RatePerClientAddress',
          priority: 0,
          action: { block: {} },
          statement: { rateBasedStatement: { limit, aggregateKeyType: 'IP', evaluationWindowSec: 300 } },
          visibilityConfig: visibility('RatePerClientAddress'),
        },
        ...groups.map((name, i) => ({
          name,
          priority: i + 1,
          overrideAction: { none: {} },
          statement: { managedRuleGroupStatement: { vendorName: 'AWS', name } },
          visibilityConfig: visibility(name),
        })),
      ],
    });
    this.webAclArn = this.webAcl.attrArn;
  }
}
