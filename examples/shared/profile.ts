import { Size } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import { BusMode, RealtimeScalingOptions, SearchTarget } from '../../src';

/** The deployment profiles an example can be synthesized with, `cdk synth -c profile=<name>`. */
export const PROFILE_NAMES = ['default', 'lean'] as const;
export type ProfileName = typeof PROFILE_NAMES[number];

/**
 * What a profile decides for an example stack. `default` buys availability: a primary and a replica cache
 * node in two Availability Zones, two tasks at all times, tasks in private subnets behind a NAT gateway,
 * a WAF web ACL, and OpenSearch Serverless with standby replicas. `lean` trades that for price: a serverless
 * Valkey cache, tasks that scale to zero when idle, tasks in public subnets with their own address (no NAT
 * gateway), no web ACL, and one OpenSearch node.
 */
export interface ExampleProfile {
  readonly name: ProfileName;
  /** The VPC has a NAT gateway and private subnets with egress; without it tasks use public subnets. */
  readonly natGateway: boolean;
  /** How the Valkey bus runs. */
  readonly busMode: BusMode;
  /** The tasks' scaling (merged over an example's own settings). */
  readonly scaling: RealtimeScalingOptions;
  /** Tasks get a public address in the public subnets (the VPC has no NAT gateway). */
  readonly assignPublicIp: boolean;
  /** A WAF web ACL in front of the CloudFront distribution (us-east-1 only). */
  readonly webAcl: boolean;
  /** Where a StreamIndexer keeps its documents. */
  readonly searchTarget: SearchTarget;
  /** Subnets for Lambda functions and data stores that need no internet access. */
  readonly privateSubnets: ec2.SubnetSelection;
}

/**
 * The lean bus never stores more than 1 GB (the examples keep well under 100 MB): a runaway key set fails
 * writes instead of growing the bill.
 */
const LEAN_BUS_STORAGE = Size.gibibytes(1);

/**
 * The profile the app was synthesized with: context `profile` (`cdk synth -c profile=lean`), `default`
 * when unset. Any other name fails synthesis with the names there are.
 */
export function exampleProfile(scope: Construct): ExampleProfile {
  const requested: unknown = scope.node.tryGetContext('profile');
  const name = requested ?? 'default';
  if (!PROFILE_NAMES.includes(name as ProfileName)) {
    throw new Error(`${scope.node.path}: context profile '${String(requested)}' is not a profile; use -c profile=lean, or leave profile unset for the default (profiles: ${PROFILE_NAMES.join(', ')})`);
  }
  return name === 'lean' ? leanProfile() : defaultProfile();
}

function defaultProfile(): ExampleProfile {
  return {
    name: 'default',
    natGateway: true,
    busMode: BusMode.provisioned(),
    scaling: {},
    assignPublicIp: false,
    webAcl: true,
    searchTarget: SearchTarget.serverless(),
    privateSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
  };
}

function leanProfile(): ExampleProfile {
  return {
    name: 'lean',
    natGateway: false,
    busMode: BusMode.serverless({ maxDataStorage: LEAN_BUS_STORAGE }),
    scaling: { minCapacity: 0 },
    assignPublicIp: true,
    webAcl: false,
    searchTarget: SearchTarget.domain({ dataNodes: 1 }),
    privateSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
  };
}
