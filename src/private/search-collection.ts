import { Lazy, Names, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as aoss from 'aws-cdk-lib/aws-opensearchserverless';
import { Construct } from 'constructs';
import { enforceRuleQuota } from './rule-quota';
import { SearchBackend, lowerCaseName, principalArns, principalStack } from './search-backend';
import { invalidProp } from './validation';
import { ExistingCollectionAttributes, ServerlessCollectionOptions } from '../indexer/search-target';

const INDEXER_PERMISSIONS = ['aoss:CreateIndex', 'aoss:DescribeIndex', 'aoss:UpdateIndex', 'aoss:WriteDocument', 'aoss:ReadDocument'];
const SEARCH_PERMISSIONS = ['aoss:DescribeIndex', 'aoss:ReadDocument'];

export interface SearchCollectionProps extends ServerlessCollectionOptions {
  readonly indexName: string;
  /** Reach the collection only through a VPC endpoint in these subnets. */
  readonly vpc?: ec2.IVpc;
  readonly vpcSubnets?: ec2.SubnetSelection;
}

/**
 * An OpenSearch Serverless SEARCH collection whose policies name exactly the roles granted here: the
 * encryption policy must exist before the collection, the network policy admits only the VPC endpoint
 * (or the public endpoint, IAM-signed, without a VPC), and the data access policy is written at synthesis
 * from the granted roles.
 */
abstract class CollectionAccess extends Construct implements SearchBackend {
  public abstract readonly endpoint: string;
  public readonly signingService = 'aoss' as const;
  public readonly clientSecurityGroups: ec2.ISecurityGroup[] = [];
  /** The collection's name, as its policies name it. */
  protected abstract readonly name: string;
  protected abstract readonly indexName: string;
  protected abstract readonly collectionArn: string;
  private readonly readers: iam.IRole[] = [];
  private readonly writers: iam.IRole[] = [];
  /** ARNs of principals of this stack given to `grantReader`. */
  private readonly grantedReaders: string[] = [];

  public grantIndexer(indexer: iam.IRole): void {
    this.writers.push(indexer);
    this.grantApiAccess(indexer);
  }

  public grantSearch(search: iam.IRole): void {
    this.readers.push(search);
    this.grantApiAccess(search);
  }

  /**
   * Within this stack the grantee joins the data access policy. A principal of another stack gets a data
   * access policy of its own, in its own stack, naming the collection and index by name: the grantee's stack
   * already depends on this one (its IAM policy names the collection's ARN), so naming its role in this
   * stack's policy would make the two stacks depend on each other.
   */
  public grantReader(grantee: iam.IGrantable): iam.Grant {
    const principal = grantee.grantPrincipal;
    const arns = principalArns(principal);
    if (arns.length === 0) {
      invalidProp(this.node.scope!, 'grantSearch grantee', principal.toString(),
        'is not an IAM role or user, and OpenSearch Serverless data access policies name only those', 'grant to a role, e.g. a function\'s or a task\'s');
    }
    const stack = principalStack(principal);
    if (stack && stack !== Stack.of(this)) {
      this.createReaderPolicyIn(principal as unknown as Construct, arns);
    } else {
      this.grantedReaders.push(...arns);
    }
    return iam.Grant.addToPrincipal({ grantee, actions: ['aoss:APIAccessAll'], resourceArns: [this.collectionArn] });
  }

  private createReaderPolicyIn(principal: Construct, arns: string[]): void {
    const id = `ReadsCollection-${this.name}`;
    if (principal.node.tryFindChild(id)) {
      return;
    }
    const scope = new Construct(principal, id);
    new aoss.CfnAccessPolicy(scope, 'DataAccessPolicy', {
      name: lowerCaseName(Names.uniqueId(scope), 32),
      type: 'data',
      description: `${principal.node.path} reads index ${this.indexName} of collection ${this.name}`,
      policy: Stack.of(scope).toJsonString([readerEntry(this.name, this.indexName, arns, `${principal.node.path} reads documents`)]),
    });
  }

  private grantApiAccess(role: iam.IRole): void {
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['aoss:APIAccessAll'], resources: [this.collectionArn] }));
  }

  /** Written lazily so it holds exactly the roles granted by the time the stack synthesizes. */
  protected createDataAccessPolicy(name: string, description: string): aoss.CfnAccessPolicy {
    const entry = (roles: iam.IRole[], permissions: string[], text: string) => ({
      Description: text,
      Rules: [{ ResourceType: 'index', Resource: [`index/${this.name}/${this.indexName}`], Permission: permissions }],
      Principal: roles.map(r => r.roleArn),
    });
    return new aoss.CfnAccessPolicy(this, 'DataAccessPolicy', {
      name,
      type: 'data',
      description,
      policy: Lazy.string({
        produce: () => Stack.of(this).toJsonString([
          entry(this.writers, INDEXER_PERMISSIONS, 'The indexer creates the index and writes documents'),
          entry(this.readers, SEARCH_PERMISSIONS, 'The search function reads documents'),
          readerEntry(this.name, this.indexName, this.grantedReaders, 'Principals given to grantSearch read documents'),
        ].filter(e => e.Principal.length > 0)),
      }),
    });
  }
}

export class SearchCollection extends CollectionAccess {
  public readonly collection: aoss.CfnCollection;
  public readonly vpcEndpoint?: aoss.CfnVpcEndpoint;
  public readonly endpoint: string;
  protected readonly name: string;
  protected readonly indexName: string;
  protected readonly collectionArn: string;

  constructor(scope: Construct, id: string, props: SearchCollectionProps) {
    super(scope, id);
    this.name = props.collectionName ?? lowerCaseName(Names.uniqueId(this), 32);
    if (!/^[a-z][a-z0-9-]{2,31}$/.test(this.name)) {
      invalidProp(scope, 'target collectionName', this.name, 'is not a collection name',
        'use 3-32 lower-case letters, digits and hyphens, starting with a letter');
    }
    this.indexName = props.indexName;

    const encryption = new aoss.CfnSecurityPolicy(this, 'EncryptionPolicy', {
      name: this.name,
      type: 'encryption',
      description: `Encryption at rest of ${this.name}`,
      policy: Stack.of(this).toJsonString({
        Rules: [{ ResourceType: 'collection', Resource: [`collection/${this.name}`] }],
        ...(props.encryptionKey ? { KmsARN: props.encryptionKey.keyArn } : { AWSOwnedKey: true }),
      }),
    });
    if (props.vpc) {
      this.vpcEndpoint = this.createVpcEndpoint(props.vpc, props.vpcSubnets);
    }
    const network = new aoss.CfnSecurityPolicy(this, 'NetworkPolicy', {
      name: this.name,
      type: 'network',
      description: this.vpcEndpoint ? `Only the VPC endpoint reaches ${this.name}` : `IAM-signed requests reach ${this.name} over its public endpoint`,
      policy: Stack.of(this).toJsonString([{
        Rules: [{ ResourceType: 'collection', Resource: [`collection/${this.name}`] }],
        ...(this.vpcEndpoint ? { AllowFromPublic: false, SourceVPCEs: [this.vpcEndpoint.attrId] } : { AllowFromPublic: true }),
      }]),
    });
    this.collection = new aoss.CfnCollection(this, 'Collection', {
      name: this.name,
      type: 'SEARCH',
      standbyReplicas: props.standbyReplicas === false ? 'DISABLED' : 'ENABLED',
      description: `Documents of ${scope.node.path}`,
    });
    this.collection.addDependency(encryption);
    this.collection.addDependency(network);
    this.endpoint = this.collection.attrCollectionEndpoint;
    this.collectionArn = this.collection.attrArn;
    const dataAccess = this.createDataAccessPolicy(this.name, `Index ${this.indexName}: the indexer writes, the search function reads`);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.DESTROY;
    if (removalPolicy === RemovalPolicy.SNAPSHOT) {
      invalidProp(scope, 'target removalPolicy', 'RemovalPolicy.SNAPSHOT', 'is not supported by OpenSearch Serverless collections',
        'use RemovalPolicy.DESTROY or RemovalPolicy.RETAIN');
    }
    // A retained collection keeps its encryption and data access policies, or nothing could read it;
    // its network policy stays too, naming a VPC endpoint that goes with the stack.
    for (const resource of [this.collection, encryption, network, dataAccess]) {
      resource.applyRemovalPolicy(removalPolicy);
    }
  }

  private createVpcEndpoint(vpc: ec2.IVpc, vpcSubnets: ec2.SubnetSelection | undefined): aoss.CfnVpcEndpoint {
    const securityGroup = new ec2.SecurityGroup(this, 'EndpointSecurityGroup', {
      vpc,
      description: `HTTPS from the functions of ${this.node.scope!.node.path} to the ${this.name} collection endpoint`,
      allowAllOutbound: false,
    });
    const clients = new ec2.SecurityGroup(this, 'ClientSecurityGroup', {
      vpc,
      description: `Functions of ${this.node.scope!.node.path} that reach the ${this.name} collection`,
    });
    securityGroup.addIngressRule(clients, ec2.Port.tcp(443), 'HTTPS from the indexer and search functions');
    this.clientSecurityGroups.push(clients);
    enforceRuleQuota(securityGroup);
    enforceRuleQuota(clients);
    return new aoss.CfnVpcEndpoint(this, 'VpcEndpoint', {
      name: this.name,
      vpcId: vpc.vpcId,
      subnetIds: vpc.selectSubnets(vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }).subnetIds,
      securityGroupIds: [securityGroup.securityGroupId],
    });
  }
}

export interface ExistingSearchCollectionProps extends ExistingCollectionAttributes {
  readonly indexName: string;
}

/**
 * A collection made elsewhere: the construct adds a data access policy of its own (a collection may have
 * many) for exactly its roles and those granted here; the owner keeps the encryption and network policies.
 */
export class ExistingSearchCollection extends CollectionAccess {
  public readonly endpoint: string;
  public readonly dataAccessPolicy: aoss.CfnAccessPolicy;
  protected readonly name: string;
  protected readonly indexName: string;
  protected readonly collectionArn: string;

  constructor(scope: Construct, id: string, props: ExistingSearchCollectionProps) {
    super(scope, id);
    this.name = props.collectionName;
    if (!Token.isUnresolved(this.name) && !/^[a-z][a-z0-9-]{2,31}$/.test(this.name)) {
      invalidProp(scope, 'target collectionName', this.name, 'is not a collection name',
        'give the existing collection\'s name: 3-32 lower-case letters, digits and hyphens, starting with a letter');
    }
    if (!Token.isUnresolved(props.collectionArn) && !/^arn:aws[a-z-]*:aoss:[a-z0-9-]+:\d{12}:collection\/[a-z0-9]+$/.test(props.collectionArn)) {
      invalidProp(scope, 'target collectionArn', props.collectionArn, 'is not a collection ARN',
        'give arn:aws:aoss:<region>:<account>:collection/<id>');
    }
    if (!Token.isUnresolved(props.collectionEndpoint) && !/^https:\/\/[^/\s]+$/.test(props.collectionEndpoint)) {
      invalidProp(scope, 'target collectionEndpoint', props.collectionEndpoint, 'is not an https endpoint',
        'give https://<id>.<region>.aoss.amazonaws.com, without a path');
    }
    this.indexName = props.indexName;
    this.collectionArn = props.collectionArn;
    this.endpoint = props.collectionEndpoint;
    this.dataAccessPolicy = this.createDataAccessPolicy(lowerCaseName(Names.uniqueId(this), 32),
      `Index ${this.indexName} of ${scope.node.path}: the indexer writes, the search function reads`);
  }
}

/** A data access policy rule that lets `principals` read the index. */
export function readerEntry(collectionName: string, indexName: string, principals: string[], description: string) {
  return {
    Description: description,
    Rules: [{ ResourceType: 'index', Resource: [`index/${collectionName}/${indexName}`], Permission: SEARCH_PERMISSIONS }],
    Principal: principals,
  };
}
