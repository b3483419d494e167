import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { nagFindings } from '../../examples/shared/nag';
import { FrontDoorWebAcl } from '../../src';
import { onlyResource } from '../support/stacks';

const usEast1 = () => new Stack(new App(), 'Edge', { env: { region: 'us-east-1' } });
const visibility = (metricName: string) => ({ CloudWatchMetricsEnabled: true, SampledRequestsEnabled: true, MetricName: metricName });

describe('FrontDoorWebAcl', () => {
  test('a CloudFront-scope web ACL: a rate rule per address first, then AWS managed rules', () => {
    const stack = usEast1();
    const acl = new FrontDoorWebAcl(stack, 'WebAcl');
    const { props, logicalId } = onlyResource(Template.fromStack(stack), 'AWS::WAFv2::WebACL');
    expect(props.Scope).toBe('CLOUDFRONT');
    expect(props.DefaultAction).toEqual({ Allow: {} });
    expect(props.VisibilityConfig).toEqual(visibility('FrontDoor'));
    expect(props.Rules).toEqual([
      {
        Name: 'RatePerClientAddress',
        Priority: 0,
        Action: { Block: {} },
        Statement: { RateBasedStatement: { Limit: 2000, AggregateKeyType: 'IP', EvaluationWindowSec: 300 } },
        VisibilityConfig: visibility('RatePerClientAddress'),
      },
      ...['AWSManagedRulesAmazonIpReputationList', 'AWSManagedRulesCommonRuleSet', 'AWSManagedRulesKnownBadInputsRuleSet'].map((name, i) => ({
        Name: name,
        Priority: i + 1,
        OverrideAction: { None: {} },
        Statement: { ManagedRuleGroupStatement: { VendorName: 'AWS', Name: name } },
        VisibilityConfig: visibility(name),
      })),
    ]);
    expect(stack.resolve(acl.webAclArn)).toEqual({ 'Fn::GetAtt': [logicalId, 'Arn'] });
    expect(nagFindings(stack)).toEqual([]);
  });

  test('rate limit and rule groups are configurable', () => {
    const stack = usEast1();
    new FrontDoorWebAcl(stack, 'WebAcl', { rateLimitPer5Minutes: 500, managedRuleGroups: ['AWSManagedRulesSQLiRuleSet'] });
    const { props } = onlyResource(Template.fromStack(stack), 'AWS::WAFv2::WebACL');
    expect(props.Rules.map((r: any) => r.Name)).toEqual(['RatePerClientAddress', 'AWSManagedRulesSQLiRuleSet']);
    expect(props.Rules[0].Statement.RateBasedStatement.Limit).toBe(500);
  });

  test.each([
    ['a stack outside us-east-1', () => new FrontDoorWebAcl(new Stack(new App(), 'Eu', { env: { region: 'eu-west-1' } }), 'WebAcl'),
      "Eu/WebAcl: stack region 'eu-west-1' cannot hold a CloudFront web ACL (scope CLOUDFRONT exists only in us-east-1); create FrontDoorWebAcl in a us-east-1 stack"],
    ['a rate limit below 100', () => new FrontDoorWebAcl(usEast1(), 'WebAcl', { rateLimitPer5Minutes: 10 }),
      'Edge/WebAcl: rateLimitPer5Minutes 10 is not a whole number from 100 to 2000000000; use a value from 100 to 2000000000'],
    ['a rule group twice', () => new FrontDoorWebAcl(usEast1(), 'WebAcl', { managedRuleGroups: ['A', 'A'] }),
      "Edge/WebAcl: managedRuleGroups 'A, A' names a rule group twice; list each rule group once"],
  ])('%s fails with a clear message', (_name, create, message) => {
    expect(create).toThrow(message);
  });
});
