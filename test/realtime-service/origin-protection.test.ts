import { Match } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import { nagFindings } from '../../examples/shared/nag';
import { RealtimeFargateService } from '../../src';
import { stackWithVpc, template, testImage } from '../support/stacks';

describe('addOriginProtection', () => {
  function protectedService() {
    const { stack, vpc } = stackWithVpc();
    const svc = new RealtimeFargateService(stack, 'Service', { vpc, image: testImage });
    const frontDoor = new Construct(stack, 'FrontDoor');
    svc.addOriginProtection({ frontDoor, peer: ec2.Peer.prefixList('pl-3b927c52'), headerName: 'X-Origin-Verify', headerValue: 'secret-value' });
    return { stack, svc, frontDoor };
  }

  test('a fronted service needs neither a certificate nor insecureHttp', () => {
    const { stack, svc } = protectedService();
    expect(() => template(stack)).not.toThrow();
    expect(svc.isFronted).toBe(true);
  });

  test('removes the internet ingress and admits only the front door\'s peer', () => {
    const t = template(protectedService().stack);
    const open = t.findResources('AWS::EC2::SecurityGroupIngress', { Properties: { CidrIp: '0.0.0.0/0' } });
    expect(open).toEqual({});
    const lbIngress = t.findResources('AWS::EC2::SecurityGroupIngress', {
      Properties: { GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('ServiceLoadBalancerSecurityGroup'), 'GroupId'] } },
    });
    expect(Object.values(lbIngress).map((r: any) => r.Properties)).toEqual([
      expect.objectContaining({ FromPort: 80, ToPort: 80, IpProtocol: 'tcp', SourcePrefixListId: 'pl-3b927c52', Description: 'From Test/FrontDoor' }),
    ]);
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

  test('is nag-clean without the internet-ingress acknowledgment', () => {
    expect(nagFindings(protectedService().stack)).toEqual([]);
  });

  test('a second front door is refused', () => {
    const { stack, svc } = protectedService();
    expect(() => svc.addOriginProtection({ frontDoor: new Construct(stack, 'Other'), peer: ec2.Peer.ipv4('10.0.0.0/8') }))
      .toThrow('Test/Service: already protected by Test/FrontDoor; a service can sit behind one front door only');
  });

  test('a header name without a value is refused', () => {
    const { stack, vpc } = stackWithVpc();
    const svc = new RealtimeFargateService(stack, 'Service', { vpc, image: testImage });
    expect(() => svc.addOriginProtection({ frontDoor: new Construct(stack, 'FrontDoor'), peer: ec2.Peer.ipv4('10.0.0.0/8'), headerName: 'X-Origin-Verify' }))
      .toThrow('Test/Service: addOriginProtection needs both headerName and headerValue, or neither');
  });
});
