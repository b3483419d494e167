import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import { exampleLogGroup } from './logs';
import { exampleProfile } from './profile';

/** Choices a stack can make beyond its profile. */
export interface ExampleVpcOptions {
  /**
   * Keep the NAT gateway and the private subnets with egress whatever the profile, for a stack whose Lambda
   * functions in the VPC must reach the internet (a function cannot have a public address of its own).
   *
   * @default - as the profile says: a NAT gateway by default, none in the lean profile
   */
  readonly natGateway?: boolean;
}

/**
 * The VPC every example uses, over two Availability Zones with flow logs kept a year in an encrypted log
 * group. Public subnets never assign addresses on launch (Control Tower CT.EC2.PR.11): what needs one gets
 * its own.
 *
 * Default profile: public subnets for the load balancer and the NAT gateway, private subnets with egress
 * for the tasks, isolated subnets for data stores, one NAT gateway.
 *
 * Lean profile (`-c profile=lean`): no NAT gateway. Tasks run in the public subnets with their own public
 * address, behind a security group that admits only the load balancer; data stores, internal load
 * balancers and functions live in isolated subnets. Gateway endpoints for S3 and DynamoDB (free) keep image
 * layers, table traffic and the OpenSearch bootstrap's answer to CloudFormation inside the VPC.
 */
export function exampleVpc(scope: Construct, options: ExampleVpcOptions = {}): ec2.Vpc {
  const natGateway = options.natGateway ?? exampleProfile(scope).natGateway;
  const vpc = new ec2.Vpc(scope, 'Vpc', {
    maxAzs: 2,
    natGateways: natGateway ? 1 : 0,
    subnetConfiguration: [
      { name: 'Public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: false },
      ...natGateway ? [{ name: 'Private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 }] : [],
      { name: 'Data', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
    ],
  });
  vpc.addFlowLog('FlowLog', {
    destination: ec2.FlowLogDestination.toCloudWatchLogs(exampleLogGroup(scope, 'FlowLogs')),
  });
  if (!natGateway) {
    vpc.addGatewayEndpoint('S3', { service: ec2.GatewayVpcEndpointAwsService.S3 });
    vpc.addGatewayEndpoint('DynamoDb', { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB });
  }
  return vpc;
}
