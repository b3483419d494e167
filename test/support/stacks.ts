import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';

/** A region-bound, account-agnostic stack (the constructs need a region for ALB access logs). */
export function testStack(): Stack {
  return new Stack(new App(), 'Test', { env: { region: 'eu-west-1' } });
}

/** A stack with a VPC of two AZs that has public, private and isolated subnets. */
export function stackWithVpc(): { stack: Stack; vpc: ec2.Vpc } {
  const stack = testStack();
  return { stack, vpc: threeTierVpc(stack) };
}

/** A VPC of two AZs with public, private and isolated subnets and flow logs. */
export function threeTierVpc(stack: Stack): ec2.Vpc {
  const vpc = new ec2.Vpc(stack, 'Vpc', {
    maxAzs: 2,
    subnetConfiguration: [
      { name: 'Public', subnetType: ec2.SubnetType.PUBLIC },
      { name: 'Private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      { name: 'Data', subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    ],
  });
  vpc.addFlowLog('FlowLog');
  return vpc;
}

/** An image reference that needs no Docker or asset staging. */
export const testImage = ecs.ContainerImage.fromRegistry('public.ecr.aws/example/realtime:1');

export function template(stack: Stack): Template {
  return Template.fromStack(stack);
}

/** The only resource of a type, or a failure naming how many there were. */
export function onlyResource(t: Template, type: string): { logicalId: string; props: any; resource: any } {
  const found = t.findResources(type);
  const ids = Object.keys(found);
  if (ids.length !== 1) {
    throw new Error(`expected exactly one ${type}, found ${ids.length}: ${ids.join(', ')}`);
  }
  return { logicalId: ids[0], props: found[ids[0]].Properties, resource: found[ids[0]] };
}

/** Synthesizes the stack's app and returns the error message of the first failing validation. */
export function synthError(stack: Stack): string {
  try {
    (stack.node.root as App).synth();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected synthesis to fail, but it succeeded');
}
