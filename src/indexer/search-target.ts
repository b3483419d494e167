import { RemovalPolicy, Size } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as opensearch from 'aws-cdk-lib/aws-opensearchservice';

/**
 * Options of an OpenSearch Serverless collection made by `StreamIndexer`.
 */
export interface ServerlessCollectionOptions {
  /**
   * Standby replicas in a second Availability Zone. Turning them off halves the idle floor (1 OCU instead
   * of 2) and is meant for development and test collections.
   * @default true
   */
  readonly standbyReplicas?: boolean;
  /**
   * The customer managed key that encrypts the collection. A collection with its own key does not share
   * OCUs with the account's other collections.
   * @default - an AWS owned key
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * The collection's name (3–32 characters: lower-case letters, digits and hyphens, starting with a letter).
   * The encryption, network and data access policies take the same name.
   * @default - derived from the construct path
   */
  readonly collectionName?: string;
  /**
   * What happens to the collection (and its documents) when it leaves the stack. With `RETAIN` its
   * encryption, network and data access policies stay with it, so it stays readable, and it keeps billing
   * its OCU floor until deleted by hand; the VPC endpoint (with a `vpc`) is deleted. `SNAPSHOT` is not
   * supported.
   * @default RemovalPolicy.DESTROY - `cdk destroy` deletes the collection, its documents and its policies;
   * the table stays the source of truth, and a new collection is rebuilt by replaying it
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Options of a managed OpenSearch Service domain made by `StreamIndexer`.
 */
export interface SearchDomainOptions {
  /**
   * The data node instance type.
   * @default 't3.small.search'
   */
  readonly instanceType?: string;
  /**
   * Data nodes. One node has no zone awareness. A multiple of three is spread over three Availability Zones
   * when `vpcSubnets` has subnets in three, any other even number over two; AWS refuses zone awareness over
   * two zones with an odd number of nodes, so other counts fail synthesis.
   * @default 2
   */
  readonly dataNodes?: number;
  /**
   * The gp3 volume of each data node.
   * @default Size.gibibytes(10)
   */
  readonly volumeSize?: Size;
  /**
   * The engine version.
   * @default EngineVersion.OPENSEARCH_2_19
   */
  readonly version?: opensearch.EngineVersion;
  /**
   * What happens to the domain (and its documents) when it leaves the stack. The table stays the source of
   * truth, so a destroyed domain can be rebuilt by replaying the table.
   * @default RemovalPolicy.RETAIN - `cdk destroy` leaves the domain, its documents and its cost (its
   * instances and volumes) in the account; delete it by hand or set `RemovalPolicy.DESTROY`
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * An OpenSearch Serverless collection made and owned elsewhere (another stack, another team, the console),
 * for `SearchTarget.existingCollection()`.
 */
export interface ExistingCollectionAttributes {
  /** The collection's ARN, `arn:aws:aoss:<region>:<account>:collection/<id>`. */
  readonly collectionArn: string;
  /** The collection's name: the data access policy the construct adds names the collection and index by it. */
  readonly collectionName: string;
  /** The collection's endpoint, `https://<id>.<region>.aoss.amazonaws.com`. */
  readonly collectionEndpoint: string;
}

/**
 * A managed OpenSearch Service domain made and owned elsewhere, for `SearchTarget.existingDomain()`.
 */
export interface ExistingDomainAttributes {
  /** The domain's ARN, `arn:aws:es:<region>:<account>:domain/<name>`. */
  readonly domainArn: string;
  /** The domain's endpoint, `https://<host>` (in a VPC, the VPC endpoint's host). */
  readonly domainEndpoint: string;
  /**
   * Security groups the functions join to reach a domain in a VPC (give `StreamIndexerProps.vpc` too);
   * the domain's own security group must admit HTTPS from them.
   * @default - none: with a `vpc`, Lambda gives each function a security group with outbound access only
   */
  readonly clientSecurityGroups?: ec2.ISecurityGroup[];
}

/**
 * Where `StreamIndexer` keeps its documents.
 *
 * Idle cost, from AWS's published us-east-1 prices (OpenSearch Serverless $0.24 per OCU-hour; t3.small.search
 * $0.036 per instance-hour; gp3 $0.122 per GB-month), 730 hours a month, storage excluded:
 * - `serverless()` never scales below 1 indexing and 1 search OCU with standby replicas (0.5 + 0.5 without),
 *   about $350 a month ($175 without standby replicas), shared by the account's collections that use the
 *   same key.
 * - `domain()` with its defaults (two t3.small.search nodes with 10 GiB each) is about $55 a month; one
 *   node about $28.
 * Serverless is the default because it needs no capacity planning, patching or VPC; pick `domain()` for a
 * small deployment where that floor dominates the bill.
 */
export class SearchTarget {
  /**
   * An OpenSearch Serverless collection of type SEARCH, with encryption, network and data access policies
   * for exactly the indexer and search functions.
   */
  public static serverless(options: ServerlessCollectionOptions = {}): SearchTarget {
    return new SearchTarget(options, undefined);
  }

  /**
   * A managed OpenSearch Service domain in the indexer's VPC: encrypted at rest, node-to-node TLS, HTTPS
   * only with TLS 1.2, fine-grained access control. Its master user is a small bootstrap function that runs
   * only when the stack is created or updated (a CloudFormation custom resource): it maps the indexer
   * function to a role that may only create and write the index, and the search function to a read-only
   * role on it. Needs `StreamIndexerProps.vpc`, with a route to S3 from `vpcSubnets` (egress, or an S3
   * gateway endpoint) for the bootstrap's answer to CloudFormation.
   */
  public static domain(options: SearchDomainOptions = {}): SearchTarget {
    return new SearchTarget(undefined, options);
  }

  /**
   * An OpenSearch Serverless collection that exists already. The construct adds a data access policy
   * (`AWS::OpenSearchServerless::AccessPolicy`) that lets its indexer create and write the index and its
   * search function (and principals given to `grantSearch`) read it, and gives the functions
   * `aoss:APIAccessAll` on the collection. The collection's owner keeps its encryption and network
   * policies: the network policy must admit the functions, either from public (IAM-signed requests) or,
   * with `StreamIndexerProps.vpc`, through a VPC endpoint of that VPC that it names.
   */
  public static existingCollection(attributes: ExistingCollectionAttributes): SearchTarget {
    return new SearchTarget(undefined, undefined, attributes, undefined);
  }

  /**
   * A managed OpenSearch Service domain that exists already. The construct grants its functions' IAM roles
   * the calls they make (the indexer `es:ESHttpPut` on the index and `es:ESHttpPost` on its `_bulk`, the
   * search function `es:ESHttpPost` on its `_search`), but the domain's access policy and fine-grained
   * access control belong to its owner, who must:
   * - admit the two roles (`indexerFunction.role`, `searchFunction.role`) in the domain's access policy
   *   for those calls, or leave access to fine-grained access control;
   * - with fine-grained access control, map the indexer's role (as a backend role) to a role that may
   *   create the index and write to it (`indices:admin/create`, `indices:admin/mapping/put`,
   *   `indices:data/write/bulk*`, `indices:data/write/index`, `indices:data/write/delete` on the index and
   *   cluster permission `indices:data/write/bulk`), and the search function's role, and any given to
   *   `grantSearch`, to one that may read it (`read`);
   * - for a domain in a VPC, admit HTTPS from `clientSecurityGroups` (give `StreamIndexerProps.vpc`).
   * Until then the indexer's writes fail and its records end in the dead-letter queue, from which they
   * can be replayed.
   */
  public static existingDomain(attributes: ExistingDomainAttributes): SearchTarget {
    return new SearchTarget(undefined, undefined, undefined, attributes);
  }

  /** The collection options, when this target is a serverless collection. */
  public readonly serverlessOptions?: ServerlessCollectionOptions;
  /** The domain options, when this target is a managed domain. */
  public readonly domainOptions?: SearchDomainOptions;
  /** The collection, when this target is an existing serverless collection. */
  public readonly existingCollectionAttributes?: ExistingCollectionAttributes;
  /** The domain, when this target is an existing managed domain. */
  public readonly existingDomainAttributes?: ExistingDomainAttributes;

  private constructor(serverless: ServerlessCollectionOptions | undefined, domain: SearchDomainOptions | undefined,
    existingCollection?: ExistingCollectionAttributes, existingDomain?: ExistingDomainAttributes) {
    this.serverlessOptions = serverless;
    this.domainOptions = domain;
    this.existingCollectionAttributes = existingCollection;
    this.existingDomainAttributes = existingDomain;
  }
}
