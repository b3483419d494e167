import { Names, RemovalPolicy, Size, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as opensearch from 'aws-cdk-lib/aws-opensearchservice';
import { Construct } from 'constructs';
import { acknowledgeNag } from './nag';
import { SearchBackend, lowerCaseName } from './search-backend';
import { checkInteger } from './validation';
import { SearchDomainOptions } from '../indexer/search-target';

export interface SearchDomainProps extends SearchDomainOptions {
  readonly vpc: ec2.IVpc;
  readonly vpcSubnets?: ec2.SubnetSelection;
  /** The indexer function's role: the master user of fine-grained access control. */
  readonly indexerRole: iam.IRole;
  /** The search function's role. */
  readonly searchRole: iam.IRole;
}

/**
 * A small managed domain in the VPC. Fine-grained access control maps the indexer's role to the master
 * user, so the indexer can create the index and a read-only role for the search function on first use;
 * the domain's resource policy admits only the two roles.
 */
export class SearchDomain extends Construct implements SearchBackend {
  public readonly domain: opensearch.Domain;
  public readonly endpoint: string;
  public readonly signingService = 'es' as const;
  public readonly clientSecurityGroups: ec2.ISecurityGroup[];

  constructor(scope: Construct, id: string, props: SearchDomainProps) {
    super(scope, id);
    const dataNodes = props.dataNodes ?? 2;
    checkInteger(scope, 'target dataNodes', dataNodes, 1, 80);
    const domainSecurityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: `OpenSearch domain of ${scope.node.path}: HTTPS from its functions only`,
      allowAllOutbound: false,
    });
    const clients = new ec2.SecurityGroup(this, 'ClientSecurityGroup', {
      vpc: props.vpc,
      description: `Functions of ${scope.node.path} that reach its OpenSearch domain`,
    });
    domainSecurityGroup.addIngressRule(clients, ec2.Port.tcp(443), 'HTTPS from the indexer and search functions');
    this.clientSecurityGroups = [clients];

    const domainName = lowerCaseName(Names.uniqueId(this), 28);
    const zoneAware = dataNodes > 1;
    const subnets = props.vpc.selectSubnets(props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS });
    this.domain = new opensearch.Domain(this, 'Domain', {
      domainName,
      version: props.version ?? opensearch.EngineVersion.OPENSEARCH_2_19,
      vpc: props.vpc,
      vpcSubnets: [{ subnets: subnets.subnets.slice(0, zoneAware ? 2 : 1) }],
      securityGroups: [domainSecurityGroup],
      capacity: {
        dataNodes,
        dataNodeInstanceType: props.instanceType ?? 't3.small.search',
        multiAzWithStandbyEnabled: false,
      },
      zoneAwareness: zoneAware ? { enabled: true, availabilityZoneCount: 2 } : { enabled: false },
      ebs: { volumeSize: (props.volumeSize ?? Size.gibibytes(10)).toGibibytes(), volumeType: ec2.EbsDeviceVolumeType.GP3 },
      encryptionAtRest: { enabled: true },
      nodeToNodeEncryption: true,
      enforceHttps: true,
      tlsSecurityPolicy: opensearch.TLSSecurityPolicy.TLS_1_2,
      fineGrainedAccessControl: { masterUserArn: props.indexerRole.roleArn },
      logging: { slowSearchLogEnabled: true, slowIndexLogEnabled: true, appLogEnabled: true, auditLogEnabled: true },
      // aws-cdk-lib writes the log and access policies through custom-resource Lambdas; plain
      // CloudFormation properties below do the same without them.
      suppressLogsResourcePolicy: true,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.endpoint = `https://${this.domain.domainEndpoint}`;
    this.createLogsResourcePolicy();
    this.restrictAccess(domainName, [props.indexerRole, props.searchRole]);
    acknowledgeNag(this.domain, 'OS4',
      'Dedicated master nodes would triple the idle cost of a domain chosen for being small; data nodes act as masters, and the table remains the source of truth to rebuild from.');
    acknowledgeNag(this.domain, 'OS3',
      'The domain has no public endpoint: it lives in the VPC, its security group admits only the two functions, and its access policy names their roles, which is narrower than any IP allowlist.');
    if (!zoneAware) {
      acknowledgeNag(this.domain, 'OS7',
        'A single data node was chosen for cost (dataNodes: 1); zone awareness needs two or more nodes.');
    }
  }

  public grantIndexer(indexer: iam.IRole): void {
    this.domain.grantReadWrite(indexer);
    this.domain.grantIndexReadWrite('*', indexer);
  }

  public grantSearch(search: iam.IRole): void {
    this.domain.grantRead(search);
    this.domain.grantIndexRead('*', search);
    // Queries go as POST /<index>/_search, which the read grants (GET and HEAD) do not cover.
    search.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['es:ESHttpPost'], resources: [`${this.domain.domainArn}/*/_search`] }));
  }

  /** The domain's resource policy admits the two roles only; fine-grained access control limits each further. */
  private restrictAccess(domainName: string, roles: iam.IRole[]): void {
    const stack = Stack.of(this);
    const domainArn = stack.formatArn({ service: 'es', resource: 'domain', resourceName: domainName });
    const cfn = this.domain.node.defaultChild as opensearch.CfnDomain;
    cfn.accessPolicies = new iam.PolicyDocument({
      statements: [new iam.PolicyStatement({
        principals: roles.map(r => new iam.ArnPrincipal(r.roleArn)),
        actions: ['es:ESHttpGet', 'es:ESHttpHead', 'es:ESHttpPost', 'es:ESHttpPut', 'es:ESHttpDelete'],
        resources: [`${domainArn}/*`],
      })],
    }).toJSON();
  }

  /** Lets the service write the domain's slow, application and audit logs. */
  private createLogsResourcePolicy(): void {
    const groups = [this.domain.slowSearchLogGroup, this.domain.slowIndexLogGroup, this.domain.appLogGroup, this.domain.auditLogGroup]
      .filter((g): g is logs.ILogGroup => g !== undefined);
    const policy = new logs.CfnResourcePolicy(this, 'LogsResourcePolicy', {
      policyName: lowerCaseName(Names.uniqueId(this), 64),
      policyDocument: Stack.of(this).toJsonString(new iam.PolicyDocument({
        statements: [new iam.PolicyStatement({
          principals: [new iam.ServicePrincipal('es.amazonaws.com')],
          actions: ['logs:PutLogEvents', 'logs:CreateLogStream'],
          resources: groups.map(g => g.logGroupArn),
        })],
      }).toJSON()),
    });
    (this.domain.node.defaultChild as opensearch.CfnDomain).addDependency(policy);
  }
}
