import { Annotations, CustomResource, Duration, Lazy, Names, RemovalPolicy, Size, Stack, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as opensearch from 'aws-cdk-lib/aws-opensearchservice';
import { Construct, IDependable } from 'constructs';
import { DEFAULT_LOG_RETENTION, LogGroupSettings, allowLogsToUse, constructLogGroup } from './log-group';
import { acknowledgeNag } from './nag';
import { enforceRuleQuota } from './rule-quota';
import { SearchBackend, lowerCaseName, principalStack } from './search-backend';
import { checkInteger, invalidProp } from './validation';
import { PROPERTY, readerRoleName, writerRoleName } from '../indexer/runtime/security-roles';
import { ExistingDomainAttributes, SearchDomainOptions } from '../indexer/search-target';
import { SecurityBootstrapFunction } from '../indexer/security-bootstrap-function';

export interface SearchDomainProps extends SearchDomainOptions {
  readonly vpc: ec2.IVpc;
  readonly vpcSubnets?: ec2.SubnetSelection;
  readonly indexName: string;
  /** The indexer function's role: creates the index and writes documents. */
  readonly indexerRole: iam.IRole;
  /** The search function's role: reads documents. */
  readonly searchRole: iam.IRole;
  /** Retention and encryption of the bootstrap function's logs and of the domain's own log groups. */
  readonly logSettings: LogGroupSettings;
  /**
   * The removal policy of the bootstrap's log group and of the domain's slow, application and audit log groups.
   * @default - the bootstrap's logs are destroyed, the domain's retained (aws-cdk-lib's default)
   */
  readonly logRemovalPolicy?: RemovalPolicy;
}

/** One HTTP call a role makes, as the domain's IAM authorization sees it: a verb on a path. */
interface DomainCall {
  readonly action: 'es:ESHttpPut' | 'es:ESHttpPost' | 'es:ESHttpGet';
  readonly path: string;
}

/**
 * A small managed domain in the VPC with fine-grained access control. Its master user is the role of a
 * bootstrap function that runs only when CloudFormation creates or updates the stack: it writes a writer
 * role limited to the index (mapped to the indexer's IAM role) and a read-only role (mapped to the search
 * function's). The domain's access policy names the three roles, each with exactly the calls it makes,
 * and each role's IAM policy says the same.
 */
export class SearchDomain extends Construct implements SearchBackend {
  public readonly domain: opensearch.Domain;
  public readonly endpoint: string;
  public readonly signingService = 'es' as const;
  public readonly clientSecurityGroups: ec2.ISecurityGroup[];
  /** The custom resource that maps the functions' roles; nothing should call the domain before it. */
  public readonly accessReady: IDependable;
  private readonly calls: Map<iam.IRole, DomainCall[]>;
  private readonly indexName: string;
  /** Roles given to `grantReader`, mapped to the read-only role by the bootstrap. */
  private readonly extraReaders: iam.IRole[] = [];

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
    domainSecurityGroup.addIngressRule(clients, ec2.Port.tcp(443), 'HTTPS from the indexer, search and security bootstrap functions');
    this.clientSecurityGroups = [clients];
    enforceRuleQuota(domainSecurityGroup);
    enforceRuleQuota(clients);

    const bootstrapRole = new iam.Role(this, 'SecurityBootstrapRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `The fine-grained access control master user of the OpenSearch domain of ${scope.node.path}; used only by its security bootstrap`,
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaVPCAccessExecutionRole')],
    });
    const index = props.indexName;
    this.indexName = index;
    const security = '_plugins/_security/api';
    this.calls = new Map<iam.IRole, DomainCall[]>([
      [props.indexerRole, [{ action: 'es:ESHttpPut', path: index }, { action: 'es:ESHttpPost', path: `${index}/_bulk` }]],
      [props.searchRole, [{ action: 'es:ESHttpPost', path: `${index}/_search` }]],
      [bootstrapRole, [writerRoleName(index), readerRoleName(index)].flatMap(role => [
        { action: 'es:ESHttpPut' as const, path: `${security}/roles/${role}` },
        { action: 'es:ESHttpPut' as const, path: `${security}/rolesmapping/${role}` },
      ])],
    ]);

    const domainName = lowerCaseName(Names.uniqueId(this), 28);
    const subnets = props.vpc.selectSubnets({ ...props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }, onePerAz: true });
    const zones = zoneCount(scope, dataNodes, subnets.subnets.length);
    this.domain = new opensearch.Domain(this, 'Domain', {
      domainName,
      version: props.version ?? opensearch.EngineVersion.OPENSEARCH_2_19,
      vpc: props.vpc,
      vpcSubnets: [{ subnets: subnets.subnets.slice(0, zones) }],
      securityGroups: [domainSecurityGroup],
      capacity: {
        dataNodes,
        dataNodeInstanceType: props.instanceType ?? 't3.small.search',
        multiAzWithStandbyEnabled: false,
      },
      zoneAwareness: zones > 1 ? { enabled: true, availabilityZoneCount: zones } : { enabled: false },
      ebs: { volumeSize: (props.volumeSize ?? Size.gibibytes(10)).toGibibytes(), volumeType: ec2.EbsDeviceVolumeType.GP3 },
      encryptionAtRest: { enabled: true },
      nodeToNodeEncryption: true,
      enforceHttps: true,
      tlsSecurityPolicy: opensearch.TLSSecurityPolicy.TLS_1_2,
      fineGrainedAccessControl: { masterUserArn: bootstrapRole.roleArn },
      logging: { slowSearchLogEnabled: true, slowIndexLogEnabled: true, appLogEnabled: true, auditLogEnabled: true },
      // aws-cdk-lib writes the log and access policies through custom-resource Lambdas; plain
      // CloudFormation properties below do the same without them.
      suppressLogsResourcePolicy: true,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.endpoint = `https://${this.domain.domainEndpoint}`;
    this.configureLogGroups(props.logSettings, props.logRemovalPolicy);
    this.createLogsResourcePolicy();
    this.restrictAccess(domainName);
    this.grantCalls(bootstrapRole);
    this.accessReady = this.createSecurityBootstrap(props, bootstrapRole, subnets);
    this.warnWithoutResponseRoute(props.vpc, subnets);

    acknowledgeNag(this.domain, 'OS4',
      'Dedicated master nodes would triple the idle cost of a domain chosen for being small; data nodes act as masters, and the table remains the source of truth to rebuild from.');
    acknowledgeNag(this.domain, 'OS3',
      'The domain has no public endpoint: it lives in the VPC, its security group admits only the construct\'s functions, and its access policy names their roles, which is narrower than any IP allowlist.');
    if (zones === 1) {
      acknowledgeNag(this.domain, 'OS7',
        'A single data node was chosen for cost (dataNodes: 1); zone awareness needs two or more nodes.');
    }
    acknowledgeNag(bootstrapRole, 'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
      'The security bootstrap function uses AWSLambdaVPCAccessExecutionRole only to write its own logs and attach its network interfaces.');
  }

  public grantIndexer(indexer: iam.IRole): void {
    this.grantCalls(indexer);
  }

  public grantSearch(search: iam.IRole): void {
    this.grantCalls(search);
  }

  /**
   * The role may search and count documents of the index: its IAM policy and the domain's access
   * policy both name those calls, and the bootstrap maps it to the read-only role. Only roles can be
   * mapped as backend roles, and only roles of this stack: the grantee's policy names the domain, so a
   * role of another stack named here would make the two stacks depend on each other.
   */
  public grantReader(grantee: iam.IGrantable): iam.Grant {
    const principal = grantee.grantPrincipal;
    const role = asRole(principal);
    if (!role) {
      return invalidProp(this.node.scope!, 'grantSearch grantee', principal.toString(),
        'is not an IAM role, and the domain\'s fine-grained access control maps only roles (as backend roles)',
        'grant to a role, e.g. a function\'s or a task\'s');
    }
    const stack = principalStack(principal);
    if (stack && stack !== Stack.of(this)) {
      return invalidProp(this.node.scope!, 'grantSearch grantee', (principal as unknown as Construct).node.path,
        `belongs to stack ${stack.stackName}, but the domain's access policy and role mapping live in ${Stack.of(this).stackName} and would make the two stacks depend on each other`,
        `create the role in ${Stack.of(this).stackName}, or import it there with iam.Role.fromRoleArn and grant that`);
    }
    if (!this.calls.has(role)) {
      const index = this.indexName;
      // Queries only, without a wildcard (which cdk-nag would flag on the grantee's policy).
      this.calls.set(role, [`${index}/_search`, `${index}/_count`].flatMap(path => [
        { action: 'es:ESHttpGet' as const, path }, { action: 'es:ESHttpPost' as const, path },
      ]));
      this.extraReaders.push(role);
    }
    return this.statements(role, this.domain.domainArn)
      .map(statement => iam.Grant.addToPrincipal({ grantee, actions: statement.actions, resourceArns: statement.resources }))
      .reduce((all, grant) => all.combine(grant));
  }

  /** The role's IAM policy allows exactly the calls the domain's access policy admits for it. */
  private grantCalls(role: iam.IRole): void {
    for (const statement of this.statements(role, this.domain.domainArn)) {
      role.addToPrincipalPolicy(statement);
    }
  }

  private statements(role: iam.IRole, domainArn: string, principal?: iam.IPrincipal): iam.PolicyStatement[] {
    const calls = this.calls.get(role) ?? [];
    const actions = [...new Set(calls.map(c => c.action))];
    return actions.map(action => new iam.PolicyStatement({
      principals: principal ? [principal] : undefined,
      actions: [action],
      resources: calls.filter(c => c.action === action).map(c => `${domainArn}/${c.path}`),
    }));
  }

  /**
   * The domain's resource policy admits the three roles (and those given to `grantReader`), each for its own calls only (within one account a
   * resource policy alone would grant access, so it must be as narrow as the roles' own policies).
   * Fine-grained access control limits each further.
   */
  private restrictAccess(domainName: string): void {
    // The domain's own ARN would make the policy depend on the domain it belongs to.
    const domainArn = Stack.of(this).formatArn({ service: 'es', resource: 'domain', resourceName: domainName });
    const cfn = this.domain.node.defaultChild as opensearch.CfnDomain;
    // Written lazily so it holds every role granted by the time the stack synthesizes.
    cfn.accessPolicies = Lazy.any({
      produce: () => new iam.PolicyDocument({
        statements: [...this.calls.keys()].flatMap(role => this.statements(role, domainArn, new iam.ArnPrincipal(role.roleArn))),
      }).toJSON(),
    });
  }

  /**
   * A custom resource whose function (the master user) writes the two roles and their mappings through
   * the security REST API, and answers CloudFormation itself: no provider framework, no extra functions.
   */
  private createSecurityBootstrap(props: SearchDomainProps, role: iam.Role, subnets: ec2.SelectedSubnets): CustomResource {
    const fn = new SecurityBootstrapFunction(this, 'SecurityBootstrap', {
      role,
      description: `Maps the functions of ${this.node.scope!.node.path} to their OpenSearch security roles (runs on stack create and update only)`,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: Duration.minutes(2),
      vpc: props.vpc,
      vpcSubnets: { subnets: subnets.subnets },
      securityGroups: this.clientSecurityGroups,
      logGroup: constructLogGroup(this, 'SecurityBootstrapLogs', { ...props.logSettings, removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.DESTROY }),
    });
    const resource = new CustomResource(this, 'SecurityRoles', {
      serviceToken: fn.functionArn,
      resourceType: 'Custom::OpenSearchSecurityRoles',
      // Bounds the wait should the answer never arrive (e.g. subnets without a route to S3), instead of
      // CloudFormation's default hour.
      serviceTimeout: Duration.minutes(10),
      properties: {
        [PROPERTY.ENDPOINT]: this.endpoint,
        [PROPERTY.INDEX]: props.indexName,
        [PROPERTY.WRITER_ROLE_ARN]: props.indexerRole.roleArn,
        [PROPERTY.READER_ROLE_ARN]: props.searchRole.roleArn,
        [PROPERTY.EXTRA_READER_ROLE_ARNS]: Lazy.list({ produce: () => this.extraReaders.map(r => r.roleArn) }, { omitEmpty: true }),
      },
    });
    // The function must be able to call the domain (policy, VPC attachment) before CloudFormation invokes it.
    const policy = role.node.tryFindChild('DefaultPolicy');
    if (policy) {
      resource.node.addDependency(policy);
    }
    return resource;
  }

  /**
   * The bootstrap answers CloudFormation at a presigned S3 URL, so its subnets need a route to S3. Isolated
   * subnets have one only through an S3 gateway endpoint; warn when none is visible in this app.
   */
  private warnWithoutResponseRoute(vpc: ec2.IVpc, subnets: ec2.SelectedSubnets): void {
    this.node.addValidation({
      validate: () => {
        const isolated = subnets.subnets.every(s => vpc.isolatedSubnets.includes(s));
        const s3Endpoint = this.node.root.node.findAll()
          .some(c => c instanceof ec2.CfnVPCEndpoint && c.vpcId === vpc.vpcId && String(c.serviceName).endsWith('.s3'));
        if (isolated && !s3Endpoint) {
          Annotations.of(this).addWarningV2('cdk-realtime:streamIndexerBootstrapEgress',
            `${this.node.scope!.node.path}: the domain's security bootstrap runs in isolated subnets and must answer CloudFormation at an S3 URL; `
            + 'add an S3 gateway endpoint to the VPC (vpc.addGatewayEndpoint(\'S3\', { service: GatewayVpcEndpointAwsService.S3 })) or use subnets with egress, '
            + 'or the stack waits 10 minutes for the answer and fails');
        }
        return [];
      },
    });
  }

  /**
   * The domain's slow, application and audit log groups (aws-cdk-lib creates them) keep logs as long as the
   * functions' do, encrypted with the same key.
   */
  private configureLogGroups(settings: LogGroupSettings, removalPolicy: RemovalPolicy | undefined): void {
    const retention = settings.retention ?? DEFAULT_LOG_RETENTION;
    if (settings.encryptionKey) {
      allowLogsToUse(settings.encryptionKey);
    }
    for (const group of this.logGroups()) {
      const cfn = group.node.defaultChild;
      if (cfn instanceof logs.CfnLogGroup) {
        cfn.retentionInDays = retention === logs.RetentionDays.INFINITE ? undefined : retention;
        cfn.kmsKeyId = settings.encryptionKey?.keyArn;
        if (removalPolicy) {
          cfn.applyRemovalPolicy(removalPolicy);
        }
      }
    }
  }

  private logGroups(): logs.ILogGroup[] {
    return [this.domain.slowSearchLogGroup, this.domain.slowIndexLogGroup, this.domain.appLogGroup, this.domain.auditLogGroup]
      .filter((g): g is logs.ILogGroup => g !== undefined);
  }

  /** Lets the service write the domain's slow, application and audit logs. */
  private createLogsResourcePolicy(): void {
    const policy = new logs.CfnResourcePolicy(this, 'LogsResourcePolicy', {
      policyName: lowerCaseName(Names.uniqueId(this), 64),
      policyDocument: Stack.of(this).toJsonString(new iam.PolicyDocument({
        statements: [new iam.PolicyStatement({
          principals: [new iam.ServicePrincipal('es.amazonaws.com')],
          actions: ['logs:PutLogEvents', 'logs:CreateLogStream'],
          resources: this.logGroups().map(g => g.logGroupArn),
        })],
      }).toJSON()),
    });
    (this.domain.node.defaultChild as opensearch.CfnDomain).addDependency(policy);
  }
}

/**
 * How many Availability Zones the data nodes are spread over. AWS refuses zone awareness over two zones
 * with an odd number of data nodes ("You must choose an even number of data nodes for a two Availability
 * Zone deployment"; the developer guide: "Zone awareness requires an even number of instances",
 * https://docs.aws.amazon.com/elasticsearch-service/latest/developerguide/es-managedomains.html#es-managedomains-zoneawareness).
 * Three zones take a multiple of three, which keeps the zones even
 * (https://docs.aws.amazon.com/opensearch-service/latest/developerguide/managedomains-multiaz.html).
 */
function zoneCount(scope: Construct, dataNodes: number, zonesAvailable: number): number {
  if (Token.isUnresolved(dataNodes) || dataNodes === 1) {
    return 1;
  }
  if (dataNodes % 3 === 0 && zonesAvailable >= 3) {
    return 3;
  }
  if (dataNodes % 2 === 0) {
    if (zonesAvailable < 2) {
      invalidProp(scope, 'target dataNodes', dataNodes, `spreads over two Availability Zones, but vpcSubnets selects subnets in ${zonesAvailable}`,
        'select subnets in two or more Availability Zones, or use dataNodes: 1');
    }
    return 2;
  }
  const threeZones = dataNodes % 3 === 0
    ? `three Availability Zones would take ${dataNodes}, but vpcSubnets selects subnets in ${zonesAvailable}`
    : 'nor a multiple of three for three Availability Zones';
  invalidProp(scope, 'target dataNodes', dataNodes,
    `is not even, which zone awareness over two Availability Zones requires (AWS refuses the domain), ${threeZones}`,
    'use an even number, a multiple of three with subnets in three Availability Zones, or 1');
}

/** The principal as a role, when it is one (a role, or what a function or task grants through). */
function asRole(principal: iam.IPrincipal): iam.IRole | undefined {
  return 'roleArn' in principal && 'roleName' in principal ? principal as iam.IRole : undefined;
}

export interface ExistingSearchDomainProps extends ExistingDomainAttributes {
  readonly indexName: string;
}

/**
 * A domain made elsewhere: only the IAM side is granted here (the same calls as for a domain the construct
 * makes); its access policy and fine-grained access control belong to its owner, as
 * `SearchTarget.existingDomain` documents.
 */
export class ExistingSearchDomain extends Construct implements SearchBackend {
  public readonly endpoint: string;
  public readonly signingService = 'es' as const;
  public readonly clientSecurityGroups: ec2.ISecurityGroup[];
  private readonly domainArn: string;
  private readonly indexName: string;

  constructor(scope: Construct, id: string, props: ExistingSearchDomainProps) {
    super(scope, id);
    if (!Token.isUnresolved(props.domainArn) && !/^arn:aws[a-z-]*:es:[a-z0-9-]+:\d{12}:domain\/[a-z][a-z0-9-]{2,27}$/.test(props.domainArn)) {
      invalidProp(scope, 'target domainArn', props.domainArn, 'is not a domain ARN', 'give arn:aws:es:<region>:<account>:domain/<name>');
    }
    if (!Token.isUnresolved(props.domainEndpoint) && !/^https:\/\/[^/\s]+$/.test(props.domainEndpoint)) {
      invalidProp(scope, 'target domainEndpoint', props.domainEndpoint, 'is not an https endpoint',
        'give https://<host> of the domain (domain.domainEndpoint with https:// in front), without a path');
    }
    this.endpoint = props.domainEndpoint;
    this.domainArn = props.domainArn;
    this.indexName = props.indexName;
    this.clientSecurityGroups = props.clientSecurityGroups ?? [];
  }

  public grantIndexer(indexer: iam.IRole): void {
    indexer.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['es:ESHttpPut'], resources: [`${this.domainArn}/${this.indexName}`] }));
    indexer.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['es:ESHttpPost'], resources: [`${this.domainArn}/${this.indexName}/_bulk`] }));
  }

  public grantSearch(search: iam.IRole): void {
    search.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['es:ESHttpPost'], resources: [`${this.domainArn}/${this.indexName}/_search`] }));
  }

  public grantReader(grantee: iam.IGrantable): iam.Grant {
    const index = `${this.domainArn}/${this.indexName}`;
    return iam.Grant.addToPrincipal({ grantee, actions: ['es:ESHttpGet', 'es:ESHttpPost'], resourceArns: [`${index}/_search`, `${index}/_count`] });
  }
}
