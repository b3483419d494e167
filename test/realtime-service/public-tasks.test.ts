import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { RealtimeFargateService, RealtimeFargateServiceProps } from '../../src';
import { controlFindings, controlReason } from '../support/controls';
import { onlyResource, stackWithVpc, template, testImage } from '../support/stacks';

function service(overrides: Partial<RealtimeFargateServiceProps> = {}) {
  const { stack, vpc } = stackWithVpc();
  const svc = new RealtimeFargateService(stack, 'Service', { vpc, image: testImage, insecureHttp: true, ...overrides });
  return { stack, svc, vpc };
}

/** The subnet IDs (as template references) of a selection. */
function subnetRefs(stack: ReturnType<typeof service>['stack'], subnets: ec2.ISubnet[]): unknown[] {
  return subnets.map(s => stack.resolve(s.subnetId));
}

describe('RealtimeFargateService assignPublicIp', () => {
  test('by default the tasks are in the private subnets with egress, without public addresses', () => {
    const { stack, vpc } = service();
    const network = onlyResource(template(stack), 'AWS::ECS::Service').props.NetworkConfiguration.AwsvpcConfiguration;
    expect(network.AssignPublicIp).toBe('DISABLED');
    expect(network.Subnets).toEqual(subnetRefs(stack, vpc.privateSubnets));
  });

  test('puts the tasks in the public subnets with a public address, behind a group that admits only the load balancer', () => {
    const { stack, vpc, svc } = service({ assignPublicIp: true });
    const t = template(stack);
    const network = onlyResource(t, 'AWS::ECS::Service').props.NetworkConfiguration.AwsvpcConfiguration;
    expect(network.AssignPublicIp).toBe('ENABLED');
    expect(network.Subnets).toEqual(subnetRefs(stack, vpc.publicSubnets));

    // The only ingress of the tasks' group is the container port from the load balancer's group.
    const taskGroupIds = network.SecurityGroups;
    expect(taskGroupIds).toEqual([stack.resolve(svc.connections.securityGroups[0].securityGroupId)]);
    const taskGroup = stack.resolve(svc.connections.securityGroups[0].securityGroupId)['Fn::GetAtt'][0];
    const ingress = Object.values(t.findResources('AWS::EC2::SecurityGroupIngress'))
      .map((r: any) => r.Properties)
      .filter(p => p.GroupId?.['Fn::GetAtt']?.[0] === taskGroup);
    expect(ingress).toEqual([expect.objectContaining({
      FromPort: 8080,
      ToPort: 8080,
      IpProtocol: 'tcp',
      SourceSecurityGroupId: stack.resolve(svc.loadBalancerSecurityGroup.securityGroupId),
    })]);
    const inline = t.toJSON().Resources[taskGroup].Properties.SecurityGroupIngress;
    expect(inline ?? []).toEqual([]);
  });

  test('Control Tower CT.ECS.PR.9 is acknowledged on the service with its reason: public tasks add no finding to the default service\'s', () => {
    const { stack } = service({ assignPublicIp: true });
    expect(controlReason(stack, 'Test/Service/Service/Service', 'ecs_service_assign_public_ip_disabled_check'))
      .toMatch(/^assignPublicIp was set .* no connection from the internet reaches a task\.$/);
    expect(controlFindings(stack, 'Test/Service/')).toEqual(controlFindings(service().stack, 'Test/Service/'));
  });

  test('CT.ECS.PR.9 reports a service with public addresses that nobody acknowledged', () => {
    const { stack, vpc } = stackWithVpc();
    const cluster = new ecs.Cluster(stack, 'Cluster', { vpc });
    const taskDefinition = new ecs.FargateTaskDefinition(stack, 'Task');
    taskDefinition.addContainer('Server', { image: testImage });
    new ecs.FargateService(stack, 'Plain', { cluster, taskDefinition, assignPublicIp: true });
    expect(controlFindings(stack, 'Test/Plain/')).toContain('CT.ECS.PR.9 ecs_service_assign_public_ip_disabled_check on Test/Plain/Service');
  });

  test('without assignPublicIp CT.ECS.PR.9 is not acknowledged', () => {
    const { stack } = service();
    expect(controlReason(stack, 'Test/Service/Service/Service', 'ecs_service_assign_public_ip_disabled_check')).toBeUndefined();
  });

  test('explicit public taskSubnets are accepted', () => {
    const { stack, vpc } = service({ assignPublicIp: true, taskSubnets: { subnetType: ec2.SubnetType.PUBLIC } });
    const network = onlyResource(template(stack), 'AWS::ECS::Service').props.NetworkConfiguration.AwsvpcConfiguration;
    expect(network.Subnets).toEqual(subnetRefs(stack, vpc.publicSubnets));
  });

  test.each([
    ['private subnets with egress', ec2.SubnetType.PRIVATE_WITH_EGRESS, 'Test/Vpc/PrivateSubnet1, Test/Vpc/PrivateSubnet2'],
    ['isolated subnets', ec2.SubnetType.PRIVATE_ISOLATED, 'Test/Vpc/DataSubnet1, Test/Vpc/DataSubnet2'],
  ])('a public address in %s fails with the construct, prop, subnets and fix', (_name, subnetType, paths) => {
    expect(() => service({ assignPublicIp: true, taskSubnets: { subnetType } })).toThrow(
      `Test/Service: taskSubnets '${paths}' selects subnets that are not public, where a task's public address has no route to the internet gateway; `
      + 'select public subnets (subnetType: ec2.SubnetType.PUBLIC, the default with assignPublicIp), or remove assignPublicIp to use private subnets with a NAT gateway');
  });
});
