import { Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct, IDependable } from 'constructs';
import { IndexField, IndexFieldType } from '../indexer/index-field';

/** What the indexer and search functions need from a collection or domain. */
export interface SearchBackend {
  /** `https://host` of the collection or domain. */
  readonly endpoint: string;
  /** The SigV4 service name: `aoss` or `es`. */
  readonly signingService: 'aoss' | 'es';
  /** Security groups the functions must be in to reach the endpoint, when it lives in a VPC. */
  readonly clientSecurityGroups: ec2.ISecurityGroup[];
  /** What must exist before the indexer reads the stream (e.g. a domain's security roles), if anything. */
  readonly accessReady?: IDependable;
  /** Lets `indexer` create the index and write documents. */
  grantIndexer(indexer: iam.IRole): void;
  /** Lets `search` read documents. */
  grantSearch(search: iam.IRole): void;
  /**
   * Lets any principal query the index: its IAM policy and the collection's or domain's own access
   * control (data access policy, or domain access policy and fine-grained role mapping) both admit it.
   */
  grantReader(grantee: iam.IGrantable): iam.Grant;
}

/** The IAM ARNs (`{ AWS: ... }`) a principal stands for in a resource policy; empty for service or federated principals. */
export function principalArns(principal: iam.IPrincipal): string[] {
  const aws = principal.policyFragment.principalJson.AWS;
  return aws === undefined ? [] : ([] as string[]).concat(aws);
}

/** The stack the principal was defined in, when it is a construct (a role or user of this app). */
export function principalStack(principal: iam.IPrincipal): Stack | undefined {
  return Construct.isConstruct(principal) ? Stack.of(principal) : undefined;
}

/** Whether `q` of the search API matches `field`. */
export function isSearchable(field: IndexField): boolean {
  return field.searchable ?? (field.type === IndexFieldType.SEARCH_AS_YOU_TYPE || field.type === IndexFieldType.TEXT);
}

/** A lower-case name of at most `maxLength` characters, from a construct's unique id. */
export function lowerCaseName(uniqueId: string, maxLength: number): string {
  const cleaned = uniqueId.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^[^a-z]+/, '');
  const name = cleaned.length > maxLength ? cleaned.slice(0, maxLength - 9) + '-' + cleaned.slice(-8) : cleaned;
  return name.replace(/-+$/, '');
}
