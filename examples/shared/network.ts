import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import { exampleLogGroup } from './logs';

/**
 * The VPC every example uses: two Availability Zones, public subnets for the load balancer and the NAT
 * gateway (neither needs addresses assigned on launch, so the subnets assign none), private subnets with
 * egress for the tasks, isolated subnets for data stores, one NAT gateway, and flow logs kept a year in an
 * encrypted log group.
 */
export function exampleVpc(scope: Construct): ec2.Vpc {
  const vpc = new ec2.Vpc(scope, 'Vpc', {
    maxAzs: 2,
    natGateways: 1,
    subnetConfiguration: [
      { name: 'Public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: false },
      { name: 'Private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
      { name: 'Data', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
    ],
  });
  vpc.addFlowLog('FlowLog', {
    destination: ec2.FlowLogDestination.toCloudWatchLogs(exampleLogGroup(scope, 'FlowLogs')),
  });
  return vpc;
}
