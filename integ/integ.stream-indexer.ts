import { IntegTest } from '@aws-cdk/integ-tests-alpha';
import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { IndexFieldType, SearchTarget, StreamIndexer } from '../src';

// Both targets side by side: a serverless collection behind a VPC endpoint, and a one-node managed domain.
// Both ways of opening the search route: IAM-signed callers only, and public by name. A reader role is
// granted direct search on both targets, and an extra alarm is made from metricIteratorAge.
const app = new App();
const stack = new Stack(app, 'StreamIndexerInteg', { env: { region: 'us-east-1' } });
const vpc = new ec2.Vpc(stack, 'Vpc', {
  maxAzs: 2,
  natGateways: 0,
  subnetConfiguration: [{ name: 'Data', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }],
});
// The domain's security bootstrap answers CloudFormation at an S3 URL; isolated subnets reach S3 only this way.
vpc.addGatewayEndpoint('S3', { service: ec2.GatewayVpcEndpointAwsService.S3 });
const table = new dynamodb.Table(stack, 'Messages', {
  partitionKey: { name: 'room', type: dynamodb.AttributeType.STRING },
  sortKey: { name: 'message', type: dynamodb.AttributeType.STRING },
  billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
  stream: dynamodb.StreamViewType.NEW_IMAGE,
  removalPolicy: RemovalPolicy.DESTROY,
});
const fields = [
  { name: 'text', type: IndexFieldType.SEARCH_AS_YOU_TYPE },
  { name: 'room', type: IndexFieldType.KEYWORD, filterable: true },
  { name: 'time', type: IndexFieldType.DATE },
];
const vpcSubnets = { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };
const serverless = new StreamIndexer(stack, 'Serverless', {
  table,
  documentId: ['room', 'message'],
  fields,
  vpc,
  vpcSubnets,
  target: SearchTarget.serverless({ standbyReplicas: false, removalPolicy: RemovalPolicy.DESTROY }),
  searchAuthorizer: new HttpIamAuthorizer(),
  logRemovalPolicy: RemovalPolicy.DESTROY,
});
const domain = new StreamIndexer(stack, 'Domain', {
  table,
  documentId: ['room', 'message'],
  fields,
  vpc,
  vpcSubnets,
  target: SearchTarget.domain({ dataNodes: 1, removalPolicy: RemovalPolicy.DESTROY }),
  publicSearch: true,
  logRemovalPolicy: RemovalPolicy.DESTROY,
});
const reader = new iam.Role(stack, 'Reader', { assumedBy: new iam.AccountRootPrincipal(), description: 'Queries both indexes directly' });
serverless.grantSearch(reader);
domain.grantSearch(reader);
serverless.metricIteratorAge({ period: Duration.minutes(5) }).createAlarm(stack, 'ServerlessLagAlarm', {
  alarmDescription: 'Serverless indexing lags its table by more than a minute over 15 minutes',
  threshold: Duration.minutes(1).toMilliseconds(),
  evaluationPeriods: 3,
});
new IntegTest(app, 'StreamIndexer', { testCases: [stack] });
