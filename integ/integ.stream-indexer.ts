import { IntegTest } from '@aws-cdk/integ-tests-alpha';
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { IndexFieldType, SearchTarget, StreamIndexer } from '../src';

// Both targets side by side: a serverless collection behind a VPC endpoint, and a one-node managed domain.
const app = new App();
const stack = new Stack(app, 'StreamIndexerInteg', { env: { region: 'us-east-1' } });
const vpc = new ec2.Vpc(stack, 'Vpc', {
  maxAzs: 2,
  natGateways: 0,
  subnetConfiguration: [{ name: 'Data', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }],
});
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
new StreamIndexer(stack, 'Serverless', {
  table,
  documentId: ['room', 'message'],
  fields,
  vpc,
  vpcSubnets,
  target: SearchTarget.serverless({ standbyReplicas: false }),
});
new StreamIndexer(stack, 'Domain', {
  table,
  documentId: ['room', 'message'],
  fields,
  vpc,
  vpcSubnets,
  target: SearchTarget.domain({ dataNodes: 1, removalPolicy: RemovalPolicy.DESTROY }),
});
new IntegTest(app, 'StreamIndexer', { testCases: [stack] });
