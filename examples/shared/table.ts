import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { TableKey } from './local-dynamodb';

/**
 * A DynamoDB table with the key (and global secondary indexes) the example's server and its local runs
 * share: on demand, point-in-time recovery, encrypted, retained when the stack goes.
 */
export function exampleTable(scope: Construct, id: string, key: TableKey, stream?: dynamodb.StreamViewType): dynamodb.Table {
  const attribute = (a: { name: string; type: string }) => ({ name: a.name, type: a.type as dynamodb.AttributeType });
  const table = new dynamodb.Table(scope, id, {
    partitionKey: attribute(key.partitionKey),
    sortKey: key.sortKey ? attribute(key.sortKey) : undefined,
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    encryption: dynamodb.TableEncryption.AWS_MANAGED,
    stream,
    removalPolicy: RemovalPolicy.RETAIN,
  });
  for (const index of key.globalIndexes ?? []) {
    table.addGlobalSecondaryIndex({
      indexName: index.indexName,
      partitionKey: attribute(index.partitionKey),
      sortKey: index.sortKey ? attribute(index.sortKey) : undefined,
      projectionType: index.include ? dynamodb.ProjectionType.INCLUDE : dynamodb.ProjectionType.ALL,
      nonKeyAttributes: index.include ? [...index.include] : undefined,
    });
  }
  return table;
}
