import { App, SecretValue, Stack } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import { nagFindings } from '../../examples/shared/nag';
import { RealtimeFargateService } from '../../src';
import { acknowledgedControls, controlFindings, controlReason } from '../support/controls';
import { stackWithVpc, synthError, template, testImage } from '../support/stacks';

// AWS's documented figures, stated here independently of the library's own table:
// - "Inbound or outbound rules per security group: 60" (default quota), and "when you reference a prefix
//   list in a security group rule, the maximum number of entries of the prefix list counts as that many
//   rules": https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html#vpc-limits-security-groups
// - com.amazonaws.global.cloudfront.origin-facing has weight 55:
//   https://docs.aws.amazon.com/vpc/latest/userguide/working-with-aws-managed-prefix-lists.html
// - Its ID per region (eu-west-1 pl-4fa04526, us-east-1 pl-3b927c52), as published with "Limit access to
//   your origins using the AWS-managed prefix list for Amazon CloudFront".
const RULES_PER_SECURITY_GROUP = 60;
const ORIGIN_FACING_WEIGHT = 55;
const EU_WEST_1_ORIGIN_FACING = 'pl-4fa04526';

/** Inbound rules of the load balancer's group, inline and separate. */
function loadBalancerIngress(t: ReturnType<typeof template>): any[] {
  const group = Object.values(t.findResources('AWS::EC2::SecurityGroup', { Properties: { GroupDescription: 'Load balancer of Test/Service' } }))[0] as any;
  const separate = Object.values(t.findResources('AWS::EC2::SecurityGroupIngress', {
    Properties: { GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('ServiceLoadBalancerSecurityGroup'), 'GroupId'] } },
  })).map((r: any) => r.Properties);
  return [...group.Properties.SecurityGroupIngress ?? [], ...separate];
}

/** The rules as AWS counts them against the quota: a prefix-list rule weighs the list's size. */
function inboundWeight(t: ReturnType<typeof template>): number {
  return loadBalancerIngress(t).reduce((sum, rule) => sum + (rule.SourcePrefixListId ? ORIGIN_FACING_WEIGHT : 1), 0);
}

describe('addOriginProtection', () => {
  function protectedService(certificate = false) {
    const { stack, vpc } = stackWithVpc();
    const svc = new RealtimeFargateService(stack, 'Service', {
      vpc,
      image: testImage,
      certificate: certificate ? acm.Certificate.fromCertificateArn(stack, 'Cert', 'arn:aws:acm:eu-west-1:123456789012:certificate/abc') : undefined,
    });
    const frontDoor = new Construct(stack, 'FrontDoor');
    svc.addOriginProtection({ frontDoor, headerName: 'X-Origin-Verify', headerValue: SecretValue.unsafePlainText('secret-value') });
    return { stack, svc, frontDoor };
  }

  test('a fronted service needs neither a certificate nor insecureHttp', () => {
    const { stack, svc } = protectedService();
    expect(() => template(stack)).not.toThrow();
    expect(svc.isFronted).toBe(true);
  });

  test('removes the internet ingress and admits only CloudFront\'s list of the service\'s region', () => {
    const t = template(protectedService().stack);
    expect(t.findResources('AWS::EC2::SecurityGroupIngress', { Properties: { CidrIp: '0.0.0.0/0' } })).toEqual({});
    expect(loadBalancerIngress(t)).toEqual([expect.objectContaining({
      IpProtocol: 'tcp', FromPort: 80, ToPort: 80, SourcePrefixListId: EU_WEST_1_ORIGIN_FACING, Description: 'CloudFront to Test/FrontDoor',
    })]);
  });

  test.each([false, true])('with certificate %s the origin-facing list stays within the security group rule quota', certificate => {
    const t = template(protectedService(certificate).stack);
    expect(inboundWeight(t)).toBeLessThanOrEqual(RULES_PER_SECURITY_GROUP);
    // CloudFront reaches a service with a certificate on 443 only (HTTPS_ONLY); 80 merely redirects.
    expect(loadBalancerIngress(t).map(r => r.FromPort)).toEqual([certificate ? 443 : 80]);
  });

  test('a rule that would push a group over the quota fails synthesis, naming the group and the fix', () => {
    const { stack, svc } = protectedService(true);
    svc.loadBalancerSecurityGroup.addIngressRule(ec2.Peer.prefixList(EU_WEST_1_ORIGIN_FACING), ec2.Port.tcp(80), 'A second reference');
    expect(synthError(stack)).toContain('Test/Service/LoadBalancerSecurityGroup: its inbound rules weigh 110 (2 × pl-4fa04526 of weight 55) '
      + 'against the quota of 60 rules per security group, so AWS would refuse the deployment with RulesPerSecurityGroupLimitExceeded');
  });

  test('a raised quota is honoured through context', () => {
    const stack = new Stack(new App({ context: { 'cdk-realtime:rulesPerSecurityGroup': 200 } }), 'Test', { env: { region: 'eu-west-1' } });
    const certificate = acm.Certificate.fromCertificateArn(stack, 'Cert', 'arn:aws:acm:eu-west-1:123456789012:certificate/abc');
    const svc = new RealtimeFargateService(stack, 'Service', { image: testImage, certificate });
    svc.addOriginProtection({ frontDoor: new Construct(stack, 'FrontDoor') });
    svc.loadBalancerSecurityGroup.addIngressRule(ec2.Peer.prefixList(EU_WEST_1_ORIGIN_FACING), ec2.Port.tcp(80), 'A second reference');
    expect(() => template(stack)).not.toThrow();
  });

  test('answers 403 by default and forwards only requests with the secret header', () => {
    const t = template(protectedService().stack);
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Port: 80,
      DefaultActions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '403', ContentType: 'text/plain', MessageBody: 'Forbidden' } }],
    });
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::ListenerRule', {
      Priority: 1,
      Conditions: [{ Field: 'http-header', HttpHeaderConfig: { HttpHeaderName: 'X-Origin-Verify', Values: ['secret-value'] } }],
      Actions: [Match.objectLike({ Type: 'forward' })],
    });
  });

  test('a header value from Secrets Manager stays a dynamic reference in the listener rule, never the value', () => {
    const { stack, vpc } = stackWithVpc();
    const svc = new RealtimeFargateService(stack, 'Service', { vpc, image: testImage });
    const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:origin-AbCdEf';
    svc.addOriginProtection({ frontDoor: new Construct(stack, 'FrontDoor'), headerName: 'X-Origin-Verify', headerValue: SecretValue.secretsManager(arn) });
    template(stack).hasResourceProperties('AWS::ElasticLoadBalancingV2::ListenerRule', {
      Conditions: [{ Field: 'http-header', HttpHeaderConfig: { HttpHeaderName: 'X-Origin-Verify', Values: [`{{resolve:secretsmanager:${arn}:SecretString:::}}`] } }],
    });
  });

  test('is nag-clean without the internet-ingress acknowledgment', () => {
    expect(nagFindings(protectedService().stack)).toEqual([]);
  });

  test('acknowledges CT.ELB.PR.1 on the HTTP listener of an internet-facing load balancer only when the front door checks its header', () => {
    const { stack } = protectedService();
    expect(acknowledgedControls(stack, 'Test/Service/LoadBalancer')).toEqual({ 'Test/Service/LoadBalancer/Http/Resource': ['alb_http_to_https_redirection_check'] });
    expect(controlReason(stack, 'Test/Service/LoadBalancer/Http/Resource', 'alb_http_to_https_redirection_check')).toBe(
      'This internet-facing load balancer has no certificate, so Test/FrontDoor reaches it over plain HTTP, a development setting (insecureHttpToOrigin); '
      + 'its security group admits only CloudFront\'s origin-facing addresses, the listener forwards only requests that carry the secret origin header, and there is no HTTPS listener here to redirect to.');

    const bare = stackWithVpc();
    const svc = new RealtimeFargateService(bare.stack, 'Service', { vpc: bare.vpc, image: testImage });
    svc.addOriginProtection({ frontDoor: new Construct(bare.stack, 'FrontDoor') });
    expect(acknowledgedControls(bare.stack, 'Test/Service/')).toEqual({ 'Test/Service/AccessLogs/Resource': expect.any(Array) });
  });

  test('an internal load balancer behind a front door needs no redirect: acknowledged, and nothing else on the listeners', () => {
    const { stack, vpc } = stackWithVpc();
    const svc = new RealtimeFargateService(stack, 'Service', { vpc, image: testImage, publicLoadBalancer: false });
    svc.addOriginProtection({ frontDoor: new Construct(stack, 'FrontDoor') });
    expect(controlReason(stack, 'Test/Service/LoadBalancer/Http/Resource', 'alb_http_to_https_redirection_check')).toBe(
      'This listener belongs to an internal load balancer that only CloudFront\'s VPC origin reaches; viewers connect to CloudFront over HTTPS, and there is no HTTPS listener here to redirect to.');
    expect(controlFindings(stack, 'Test/Service/LoadBalancer')).toEqual([]);
  });

  test('with a certificate, the port-80 listener redirects and nothing is acknowledged on the listeners', () => {
    expect(acknowledgedControls(protectedService(true).stack, 'Test/Service/LoadBalancer')).toEqual({});
  });

  test('a second front door is refused', () => {
    const { stack, svc } = protectedService();
    expect(() => svc.addOriginProtection({ frontDoor: new Construct(stack, 'Other') }))
      .toThrow('Test/Service: already protected by Test/FrontDoor; a service can sit behind one front door only');
  });

  test('a header name without a value is refused', () => {
    const { stack, vpc } = stackWithVpc();
    const svc = new RealtimeFargateService(stack, 'Service', { vpc, image: testImage });
    expect(() => svc.addOriginProtection({ frontDoor: new Construct(stack, 'FrontDoor'), headerName: 'X-Origin-Verify' }))
      .toThrow('Test/Service: addOriginProtection needs both headerName and headerValue, or neither');
  });
});
