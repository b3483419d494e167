/**
 * What a synthesized CloudFormation template costs per month when nobody uses it: 730 hours, no traffic,
 * us-east-1 on-demand. Every resource gets a line: priced (an hourly or monthly floor), usage-priced ($0
 * idle), free, or unpriced (costs money but has no price here, or a type the estimator does not know).
 * Nothing is silently $0. The estimate reads only the template, so any synthesized variant (a
 * `-c profile=...` context, say) is priced the same way.
 */
import {
  CLOUDWATCH_ALARM, ELASTICACHE_NODE_HOUR, ELASTICACHE_SERVERLESS, FARGATE, INTERFACE_ENDPOINT_AZ_HOUR, KMS_KEY_MONTH,
  LOAD_BALANCER, monthlyFromHourly, NAT_GATEWAY_HOUR, OPENSEARCH_DOMAIN, OPENSEARCH_SERVERLESS, PUBLIC_IPV4_HOUR, SECRET_MONTH,
  VALKEY_NODE_FACTOR, WAF, DYNAMODB_PROVISIONED, HOURS_PER_MONTH, Price,
} from './prices';

export type LineKind = 'priced' | 'usage-priced' | 'free' | 'unpriced';

export interface CostLine {
  readonly logicalId: string;
  readonly type: string;
  readonly kind: LineKind;
  /** What is priced, e.g. "Fargate ARM vCPU". */
  readonly item: string;
  readonly quantity: number;
  readonly unit: string;
  /** US dollars per 730-hour month; 0 for usage-priced, free and unpriced lines. */
  readonly monthly: number;
  readonly note?: string;
}

export interface IdleEstimate {
  /** One or more lines per resource, in template order. */
  readonly lines: CostLine[];
  /** Sum of the lines' monthly dollars. */
  readonly total: number;
  /** Lines for resources that cost money but are not priced here. */
  readonly unpriced: CostLine[];
  /** Resource types the estimator does not know at all (each is also an unpriced line). */
  readonly unknownTypes: string[];
}

export interface IdleCostOptions {
  /**
   * Task count per ECS service logical id, replacing the idle minimum (the break-even calculator prices
   * a stack under load this way).
   * @default - the minimum from DesiredCount and any ScalableTarget MinCapacity
   */
  readonly taskCounts?: Record<string, number>;
}

/** Types that never cost anything by themselves. */
export const FREE_TYPES: ReadonlySet<string> = new Set([
  'AWS::CDK::Metadata',
  'AWS::IAM::Role', 'AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy', 'AWS::IAM::InstanceProfile', 'AWS::IAM::ServiceLinkedRole',
  'AWS::EC2::VPC', 'AWS::EC2::Subnet', 'AWS::EC2::RouteTable', 'AWS::EC2::Route', 'AWS::EC2::SubnetRouteTableAssociation',
  'AWS::EC2::InternetGateway', 'AWS::EC2::VPCGatewayAttachment', 'AWS::EC2::EgressOnlyInternetGateway',
  'AWS::EC2::SecurityGroup', 'AWS::EC2::SecurityGroupIngress', 'AWS::EC2::SecurityGroupEgress',
  'AWS::EC2::NetworkAcl', 'AWS::EC2::NetworkAclEntry', 'AWS::EC2::SubnetNetworkAclAssociation', 'AWS::EC2::VPCCidrBlock',
  'AWS::EC2::SubnetCidrBlock', 'AWS::EC2::PrefixList',
  'AWS::ECS::Cluster', 'AWS::ECS::TaskDefinition', 'AWS::ECS::ClusterCapacityProviderAssociations',
  'AWS::ElasticLoadBalancingV2::Listener', 'AWS::ElasticLoadBalancingV2::ListenerRule', 'AWS::ElasticLoadBalancingV2::TargetGroup',
  'AWS::ElasticLoadBalancingV2::ListenerCertificate',
  'AWS::ApplicationAutoScaling::ScalableTarget', 'AWS::ApplicationAutoScaling::ScalingPolicy',
  'AWS::ElastiCache::SubnetGroup', 'AWS::ElastiCache::ParameterGroup', 'AWS::ElastiCache::User', 'AWS::ElastiCache::UserGroup',
  'AWS::OpenSearchServerless::AccessPolicy', 'AWS::OpenSearchServerless::SecurityPolicy', 'AWS::OpenSearchServerless::LifecyclePolicy',
  'AWS::S3::BucketPolicy', 'AWS::SQS::QueuePolicy', 'AWS::SNS::TopicPolicy', 'AWS::SNS::Subscription',
  'AWS::Lambda::Permission', 'AWS::Lambda::LayerVersion', 'AWS::Lambda::LayerVersionPermission', 'AWS::Lambda::Version',
  'AWS::Lambda::Alias', 'AWS::Lambda::EventSourceMapping', 'AWS::Lambda::EventInvokeConfig', 'AWS::Lambda::Url',
  'AWS::CloudFront::CachePolicy', 'AWS::CloudFront::OriginAccessControl', 'AWS::CloudFront::ResponseHeadersPolicy',
  'AWS::CloudFront::OriginRequestPolicy', 'AWS::CloudFront::CloudFrontOriginAccessIdentity',
  'AWS::ApiGatewayV2::Stage', 'AWS::ApiGatewayV2::Route', 'AWS::ApiGatewayV2::Integration', 'AWS::ApiGatewayV2::Authorizer',
  'AWS::ApiGatewayV2::Deployment', 'AWS::ApiGatewayV2::VpcLink', 'AWS::ApiGatewayV2::RouteResponse', 'AWS::ApiGatewayV2::IntegrationResponse',
  'AWS::ApiGateway::Deployment', 'AWS::ApiGateway::Resource', 'AWS::ApiGateway::Method', 'AWS::ApiGateway::Account',
  'AWS::WAFv2::WebACLAssociation', 'AWS::WAFv2::IPSet', 'AWS::WAFv2::RegexPatternSet',
  'AWS::KMS::Alias', 'AWS::SecretsManager::SecretTargetAttachment', 'AWS::SecretsManager::ResourcePolicy',
  'AWS::SecretsManager::RotationSchedule',
  'AWS::Logs::SubscriptionFilter', 'AWS::Logs::MetricFilter', 'AWS::Logs::ResourcePolicy', 'AWS::Logs::LogStream',
  'AWS::EFS::MountTarget', 'AWS::EFS::AccessPoint',
  'AWS::CertificateManager::Certificate', 'AWS::Route53::RecordSet', 'AWS::SSM::Parameter',
  'AWS::CloudFormation::WaitCondition', 'AWS::CloudFormation::WaitConditionHandle', 'AWS::CloudFormation::CustomResource',
  'AWS::Events::Rule', 'AWS::Scheduler::ScheduleGroup', 'AWS::ServiceDiscovery::HttpNamespace',
]);

/** Types billed by use only: $0 when nobody uses them. */
export const USAGE_PRICED_TYPES: ReadonlyMap<string, string> = new Map([
  ['AWS::Lambda::Function', 'requests and GB-seconds'],
  ['AWS::SQS::Queue', 'requests (first 1M a month free)'],
  ['AWS::SNS::Topic', 'publishes and deliveries'],
  ['AWS::S3::Bucket', 'storage and requests; a small bucket is cents'],
  ['AWS::CloudFront::Distribution', 'data out and requests (always-free tier: 1 TB, 10M requests)'],
  ['AWS::CloudFront::Function', 'invocations (2M a month free)'],
  ['AWS::CloudFront::VpcOrigin', 'no price found; assumed $0 beyond CloudFront rates'],
  ['AWS::CloudFront::KeyValueStore', 'reads'],
  ['AWS::ApiGatewayV2::Api', 'requests or messages and connection minutes'],
  ['AWS::ApiGateway::RestApi', 'requests'],
  ['AWS::Logs::LogGroup', 'ingestion and storage'],
  ['AWS::EC2::FlowLog', 'log ingestion'],
  ['AWS::EFS::FileSystem', 'GB stored'],
  ['AWS::ECR::Repository', 'GB stored'],
  ['AWS::StepFunctions::StateMachine', 'state transitions'],
  ['AWS::Scheduler::Schedule', 'invocations'],
  ['AWS::AppSync::Api', 'operations and connection minutes'],
  ['AWS::AppSync::ChannelNamespace', 'operations'],
  ['AWS::Cognito::UserPool', 'monthly active users'],
  ['AWS::ServiceDiscovery::Service', 'queries and health checks'],
  ['AWS::WAFv2::LoggingConfiguration', 'log delivery'],
  ['AWS::Logs::Destination', 'log delivery'],
  ['AWS::Events::EventBus', 'custom events'],
]);

/** Types that cost money but have no price in the table: always listed as unpriced. */
export const KNOWN_UNPRICED_TYPES: ReadonlyMap<string, string> = new Map([
  ['AWS::RDS::DBInstance', 'instance-hours and storage'],
  ['AWS::RDS::DBCluster', 'instance-hours or ACUs and storage'],
  ['AWS::EC2::Instance', 'instance-hours'],
  ['AWS::AutoScaling::AutoScalingGroup', 'instance-hours'],
  ['AWS::Kinesis::Stream', 'shard-hours'],
  ['AWS::Route53::HostedZone', 'hosted zone-month'],
  ['AWS::ServiceDiscovery::PrivateDnsNamespace', 'a private hosted zone'],
  ['AWS::CloudWatch::Dashboard', 'dashboard-month beyond the free three'],
  ['AWS::CloudWatch::AnomalyDetector', 'anomaly detection metrics'],
  ['AWS::Synthetics::Canary', 'canary runs'],
  ['AWS::WAFv2::RuleGroup', 'rules in web ACLs'],
  ['AWS::EC2::TransitGateway', 'attachment-hours'],
  ['AWS::EC2::ClientVpnEndpoint', 'association-hours'],
  ['AWS::CloudFormation::Stack', 'the nested stack\'s resources'],
]);

/** Estimates the idle monthly cost of one synthesized template. */
export function estimateIdleCost(template: any, options: IdleCostOptions = {}): IdleEstimate {
  const resources: Record<string, any> = template?.Resources ?? {};
  const lines: CostLine[] = [];
  const unknownTypes = new Set<string>();
  const collections = new OpenSearchCollectionGroups();
  for (const [id, resource] of Object.entries(resources)) {
    const type: string = resource.Type;
    const priced = priceResource(id, type, resource.Properties ?? {}, resources, options, collections);
    if (priced) {
      lines.push(...priced);
    } else if (FREE_TYPES.has(type) || type.startsWith('Custom::')) {
      lines.push({ logicalId: id, type, kind: 'free', item: 'no charge of its own', quantity: 1, unit: 'resource', monthly: 0 });
    } else if (USAGE_PRICED_TYPES.has(type)) {
      lines.push(usage(id, type, USAGE_PRICED_TYPES.get(type)!));
    } else if (KNOWN_UNPRICED_TYPES.has(type)) {
      lines.push(unpriced(id, type, KNOWN_UNPRICED_TYPES.get(type)!, 'no price in scripts/lib/prices.ts'));
    } else {
      unknownTypes.add(type);
      lines.push(unpriced(id, type, 'unknown', 'type not known to the estimator'));
    }
  }
  const total = round2(lines.reduce((sum, l) => sum + l.monthly, 0));
  return { lines, total, unpriced: lines.filter(l => l.kind === 'unpriced'), unknownTypes: [...unknownTypes].sort() };
}

/** A Fargate service as the template declares it. */
export interface FargateService {
  readonly logicalId: string;
  readonly vcpu: number;
  readonly memoryGb: number;
  readonly arch: 'ARM' | 'x86';
  /** Tasks running when idle: ScalableTarget MinCapacity when there is one, else DesiredCount (default 1). */
  readonly minTasks: number;
  /** ScalableTarget MaxCapacity, or the minimum when the service does not scale. */
  readonly maxTasks: number;
  readonly publicIp: boolean;
  /** Target-tracking targets: average CPU percent, and a custom per-task metric (e.g. ActiveConnections). */
  readonly cpuTargetPercent?: number;
  readonly customTargets: Array<{ readonly metric: string; readonly value: number }>;
}

/** Every Fargate service in a template, with its task size, architecture and task-count bounds. */
export function fargateServices(template: any): FargateService[] {
  const resources: Record<string, any> = template?.Resources ?? {};
  const services: FargateService[] = [];
  for (const [id, resource] of Object.entries(resources)) {
    if (resource.Type !== 'AWS::ECS::Service') {
      continue;
    }
    const service = describeFargateService(id, resource.Properties ?? {}, resources);
    if (service) {
      services.push(service);
    }
  }
  return services;
}

/** Monthly cost of one running task of this service (vCPU and memory only). */
export function fargateTaskMonthly(service: Pick<FargateService, 'vcpu' | 'memoryGb' | 'arch'>): number {
  const rates = service.arch === 'ARM' ? FARGATE.arm : FARGATE.x86;
  return (service.vcpu * rates.vcpuHour.usd + service.memoryGb * rates.gbHour.usd) * HOURS_PER_MONTH;
}

function priceResource(id: string, type: string, props: any, resources: Record<string, any>, options: IdleCostOptions,
  collections: OpenSearchCollectionGroups): CostLine[] | undefined {
  switch (type) {
    case 'AWS::ECS::Service': return priceEcsService(id, props, resources, options);
    case 'AWS::ElasticLoadBalancingV2::LoadBalancer': return priceLoadBalancer(id, props, resources);
    case 'AWS::EC2::NatGateway':
      return [hourly(id, type, 'NAT gateway', 1, 'gateway', NAT_GATEWAY_HOUR,
        props.ConnectivityType === 'private' ? 'private NAT gateway' : 'its Elastic IP is the AWS::EC2::EIP line')];
    case 'AWS::EC2::EIP': return [hourly(id, type, 'public IPv4 address (Elastic IP)', 1, 'address', PUBLIC_IPV4_HOUR)];
    case 'AWS::EC2::VPCEndpoint': return priceVpcEndpoint(id, props, resources);
    case 'AWS::OpenSearchServerless::VpcEndpoint':
      // "an interface endpoint, powered by AWS PrivateLink ... an endpoint network interface in each subnet":
      // https://docs.aws.amazon.com/opensearch-service/latest/developerguide/serverless-vpc.html
      return priceEndpointSubnets(id, type, props.SubnetIds, resources, 'OpenSearch Serverless VPC endpoint',
        'an AWS PrivateLink interface endpoint, one network interface per subnet');
    case 'AWS::ElastiCache::ReplicationGroup': return priceReplicationGroup(id, props);
    case 'AWS::ElastiCache::CacheCluster': return [priceCacheNodes(id, type, props.CacheNodeType, props.Engine, Number(props.NumCacheNodes ?? 1))];
    case 'AWS::ElastiCache::ServerlessCache': return [priceServerlessCache(id, props)];
    case 'AWS::OpenSearchServerless::Collection': return [collections.price(id, props, resources)];
    case 'AWS::OpenSearchService::Domain':
    case 'AWS::Elasticsearch::Domain': return priceSearchDomain(id, type, props);
    case 'AWS::WAFv2::WebACL': return priceWebAcl(id, props);
    case 'AWS::SecretsManager::Secret': return [monthly(id, type, 'secret', 1, 'secret', SECRET_MONTH)];
    case 'AWS::KMS::Key':
    case 'AWS::KMS::ReplicaKey': return [monthly(id, type, 'customer-managed KMS key', 1, 'key', KMS_KEY_MONTH)];
    case 'AWS::CloudWatch::Alarm': return [priceAlarm(id, props)];
    case 'AWS::CloudWatch::CompositeAlarm': return [monthly(id, type, 'composite alarm', 1, 'alarm', CLOUDWATCH_ALARM.compositeMonth)];
    case 'AWS::DynamoDB::Table': return priceTable(id, props);
    case 'AWS::DynamoDB::GlobalTable':
      return [props.BillingMode === 'PAY_PER_REQUEST'
        ? usage(id, type, 'on-demand requests and storage')
        : unpriced(id, type, 'provisioned replicas', 'provisioned global tables are not priced here')];
    default: return undefined;
  }
}

function priceEcsService(id: string, props: any, resources: Record<string, any>, options: IdleCostOptions): CostLine[] {
  const type = 'AWS::ECS::Service';
  const service = describeFargateService(id, props, resources);
  if (!service) {
    return [unpriced(id, type, 'tasks', 'not a Fargate service with a task size in this template (EC2 capacity is priced with its instances)')];
  }
  const tasks = options.taskCounts?.[id] ?? service.minTasks;
  const rates = service.arch === 'ARM' ? FARGATE.arm : FARGATE.x86;
  const basis = options.taskCounts?.[id] !== undefined ? 'tasks under load' : minTasksNote(service);
  const lines = [
    hourly(id, type, `Fargate ${service.arch} vCPU (${tasks} x ${service.vcpu} vCPU)`, tasks * service.vcpu, 'vCPU', rates.vcpuHour, basis),
    hourly(id, type, `Fargate ${service.arch} memory (${tasks} x ${service.memoryGb} GB)`, tasks * service.memoryGb, 'GB', rates.gbHour),
  ];
  if (service.publicIp) {
    lines.push(hourly(id, type, 'public IPv4 address per task (AssignPublicIp ENABLED)', tasks, 'address', PUBLIC_IPV4_HOUR));
  }
  return lines;
}

function minTasksNote(service: FargateService): string {
  return service.minTasks === 0 ? 'scales to zero' : `minimum ${service.minTasks} task(s)`;
}

function describeFargateService(id: string, props: any, resources: Record<string, any>): FargateService | undefined {
  const taskDefinition = resources[refTarget(props.TaskDefinition) ?? ''];
  const fargate = props.LaunchType === 'FARGATE'
    || (props.CapacityProviderStrategy ?? []).some((s: any) => String(s.CapacityProvider).startsWith('FARGATE'))
    || (props.LaunchType === undefined && (taskDefinition?.Properties?.RequiresCompatibilities ?? []).includes('FARGATE'));
  const cpu = Number(taskDefinition?.Properties?.Cpu);
  const memory = Number(taskDefinition?.Properties?.Memory);
  if (!fargate || !taskDefinition || !Number.isFinite(cpu) || !Number.isFinite(memory)) {
    return undefined;
  }
  const target = scalableTargetOf(id, resources);
  // A new service without DesiredCount starts one task:
  // https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-ecs-service.html
  const desired = props.DesiredCount === undefined ? 1 : Number(props.DesiredCount);
  const minTasks = target ? Number(target.props.MinCapacity) : desired;
  const policies = target ? scalingPoliciesOf(target.id, resources) : [];
  const cpuPolicy = policies.find(p => p.PredefinedMetricSpecification?.PredefinedMetricType === 'ECSServiceAverageCPUUtilization');
  return {
    logicalId: id,
    vcpu: cpu / 1024,
    memoryGb: memory / 1024,
    arch: taskDefinition.Properties.RuntimePlatform?.CpuArchitecture === 'ARM64' ? 'ARM' : 'x86',
    minTasks,
    maxTasks: target ? Number(target.props.MaxCapacity) : minTasks,
    publicIp: props.NetworkConfiguration?.AwsvpcConfiguration?.AssignPublicIp === 'ENABLED',
    cpuTargetPercent: cpuPolicy ? Number(cpuPolicy.TargetValue) : undefined,
    customTargets: policies
      .filter(p => p.CustomizedMetricSpecification?.MetricName)
      .map(p => ({ metric: String(p.CustomizedMetricSpecification.MetricName), value: Number(p.TargetValue) })),
  };
}

/** The ECS ScalableTarget whose ResourceId names this service (service/<cluster>/<service name>). */
function scalableTargetOf(serviceId: string, resources: Record<string, any>): { id: string; props: any } | undefined {
  for (const [id, resource] of Object.entries(resources)) {
    if (resource.Type === 'AWS::ApplicationAutoScaling::ScalableTarget' && resource.Properties?.ServiceNamespace === 'ecs'
      && referencedIds(resource.Properties.ResourceId).has(serviceId)) {
      return { id, props: resource.Properties };
    }
  }
  return undefined;
}

function scalingPoliciesOf(targetId: string, resources: Record<string, any>): any[] {
  return Object.values(resources)
    .filter((r: any) => r.Type === 'AWS::ApplicationAutoScaling::ScalingPolicy' && refTarget(r.Properties?.ScalingTargetId) === targetId)
    .map((r: any) => r.Properties.TargetTrackingScalingPolicyConfiguration)
    .filter(Boolean);
}

function priceLoadBalancer(id: string, props: any, resources: Record<string, any>): CostLine[] {
  const type = 'AWS::ElasticLoadBalancingV2::LoadBalancer';
  const kind = props.Type ?? 'application';
  if (kind !== 'application' && kind !== 'network') {
    return [unpriced(id, type, `${kind} load balancer`, 'only application and network load balancers are priced')];
  }
  const lines = [kind === 'application'
    ? hourly(id, type, 'Application Load Balancer', 1, 'load balancer', LOAD_BALANCER.albHour, 'idle LCUs taken as 0')
    : hourly(id, type, 'Network Load Balancer', 1, 'load balancer', LOAD_BALANCER.nlbHour, 'idle NLCUs taken as 0')];
  // CloudFormation's default scheme is internet-facing, with one node, and so one public IPv4 address, per
  // subnet (one per AZ): https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-elasticloadbalancingv2-loadbalancer.html
  if ((props.Scheme ?? 'internet-facing') === 'internet-facing') {
    const subnets = countSubnets(props.SubnetMappings ?? props.Subnets, resources);
    if (subnets.count === undefined) {
      lines.push(unpriced(id, type, 'public IPv4 address per load balancer node', subnets.problem!));
    } else {
      lines.push(hourly(id, type, 'public IPv4 address per load balancer node (one per subnet/AZ)', subnets.count, 'address', PUBLIC_IPV4_HOUR));
    }
  }
  return lines;
}

function priceVpcEndpoint(id: string, props: any, resources: Record<string, any>): CostLine[] {
  const type = 'AWS::EC2::VPCEndpoint';
  // Gateway is the default type: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-ec2-vpcendpoint.html
  const kind = props.VpcEndpointType ?? 'Gateway';
  if (kind === 'Gateway') {
    return [{ logicalId: id, type, kind: 'free', item: 'gateway endpoint', quantity: 1, unit: 'endpoint', monthly: 0 }];
  }
  if (kind !== 'Interface') {
    return [unpriced(id, type, `${kind} endpoint`, 'only interface and gateway endpoints are priced')];
  }
  return priceEndpointSubnets(id, type, props.SubnetIds, resources, `interface endpoint ${serviceNameOf(props.ServiceName)}`);
}

function priceEndpointSubnets(id: string, type: string, subnetIds: unknown, resources: Record<string, any>, item: string, note?: string): CostLine[] {
  const subnets = countSubnets(subnetIds, resources);
  if (subnets.count === undefined) {
    return [unpriced(id, type, item, subnets.problem!)];
  }
  return [hourly(id, type, `${item} x subnets`, subnets.count, 'subnet (AZ)', INTERFACE_ENDPOINT_AZ_HOUR, note)];
}

function serviceNameOf(value: any): string {
  if (typeof value === 'string') {
    return value.replace(/^com\.amazonaws\.[a-z0-9-]+\./, '');
  }
  // CDK joins "com.amazonaws.", the region and ".<service>": the last literal part names the service.
  const parts = Array.isArray(value?.['Fn::Join']?.[1]) ? value['Fn::Join'][1].filter((p: unknown) => typeof p === 'string') : [];
  return String(parts[parts.length - 1] ?? '').replace(/^\./, '');
}

/**
 * Counts the subnets of a SubnetIds-style list. Each entry must be a Ref to a subnet in the template or a
 * literal subnet id; a list that only a parameter or import knows cannot be counted.
 */
function countSubnets(value: unknown, resources: Record<string, any>): { count?: number; problem?: string } {
  if (!Array.isArray(value)) {
    return { problem: 'the subnet list is not in the template (a parameter or import); cannot count subnets' };
  }
  for (const entry of value) {
    const subnet = entry?.SubnetId ?? entry;
    const target = refTarget(subnet);
    if (target !== undefined && resources[target]?.Type !== 'AWS::EC2::Subnet') {
      return { problem: `subnet reference ${target} is not a subnet in this template; cannot count subnets` };
    }
    if (target === undefined && typeof subnet !== 'string') {
      return { problem: 'a subnet entry is neither a Ref to a subnet nor a subnet id; cannot count subnets' };
    }
  }
  return { count: value.length };
}

function priceReplicationGroup(id: string, props: any): CostLine[] {
  const type = 'AWS::ElastiCache::ReplicationGroup';
  let nodes: number;
  if (props.NumCacheClusters !== undefined) {
    nodes = Number(props.NumCacheClusters);
  } else if (Array.isArray(props.NodeGroupConfiguration)) {
    nodes = props.NodeGroupConfiguration.reduce((n: number, g: any) => n + 1 + Number(g.ReplicaCount ?? props.ReplicasPerNodeGroup ?? 0), 0);
  } else {
    nodes = Number(props.NumNodeGroups ?? 1) * (Number(props.ReplicasPerNodeGroup ?? 0) + 1);
  }
  return [priceCacheNodes(id, type, props.CacheNodeType, props.Engine, nodes)];
}

function priceCacheNodes(id: string, type: string, nodeType: string, engine: string | undefined, nodes: number): CostLine {
  const base = ELASTICACHE_NODE_HOUR[nodeType];
  const engineName = String(engine ?? 'redis').toLowerCase();
  if (!base) {
    return unpriced(id, type, `${nodes} x ${nodeType} ${engineName} node(s)`, `no price for node type ${nodeType}`);
  }
  if (engineName === 'valkey') {
    const rate: Price = { ...base, usd: base.usd * VALKEY_NODE_FACTOR.usd, assumption: VALKEY_NODE_FACTOR.assumption };
    return hourly(id, type, `ElastiCache ${nodeType} valkey node`, nodes, 'node', rate, `Redis OSS price x ${VALKEY_NODE_FACTOR.usd} (derived)`);
  }
  return hourly(id, type, `ElastiCache ${nodeType} ${engineName} node`, nodes, 'node', base);
}

function priceServerlessCache(id: string, props: any): CostLine {
  const type = 'AWS::ElastiCache::ServerlessCache';
  const engine = String(props.Engine ?? 'redis').toLowerCase();
  const rates = engine === 'valkey' ? ELASTICACHE_SERVERLESS.valkey : ELASTICACHE_SERVERLESS.redis;
  const configured = Number(props.CacheUsageLimits?.DataStorage?.Minimum ?? 0);
  const gb = Math.max(rates.minimumGb, Number.isFinite(configured) ? configured : 0);
  return hourly(id, type, `ElastiCache Serverless ${engine} minimum data stored`, gb, 'GB', rates.gbHour,
    configured > rates.minimumGb ? 'DataStorage.Minimum' : `metered minimum ${rates.minimumGb} GB; ECPUs are usage-priced`);
}

/**
 * OpenSearch Serverless bills a minimum of OCUs that collections sharing an encryption key (and the
 * standby setting) share; the first collection of each group carries it, later ones add nothing
 * (https://docs.aws.amazon.com/opensearch-service/latest/developerguide/serverless-scaling.html).
 */
class OpenSearchCollectionGroups {
  private readonly owners = new Map<string, string>();

  price(id: string, props: any, resources: Record<string, any>): CostLine {
    const type = 'AWS::OpenSearchServerless::Collection';
    const standby = (props.StandbyReplicas ?? 'ENABLED') === 'ENABLED';
    const group = `${standby}/${encryptionKeyOf(props.Name, resources)}`;
    const owner = this.owners.get(group);
    if (owner) {
      return { logicalId: id, type, kind: 'priced', item: 'OpenSearch Serverless OCUs', quantity: 0, unit: 'OCU', monthly: 0, note: `shares the minimum OCUs of ${owner}` };
    }
    this.owners.set(group, id);
    const ocus = standby ? OPENSEARCH_SERVERLESS.minimumOcuWithStandby : OPENSEARCH_SERVERLESS.minimumOcuWithoutStandby;
    return hourly(id, type, `OpenSearch Serverless minimum OCUs (standby replicas ${standby ? 'on' : 'off'})`, ocus, 'OCU',
      OPENSEARCH_SERVERLESS.ocuHour, 'storage is usage-priced');
  }
}

/** The KMS key an encryption security policy names for this collection, or "aws-owned". */
function encryptionKeyOf(name: unknown, resources: Record<string, any>): string {
  for (const resource of Object.values(resources)) {
    if (resource.Type !== 'AWS::OpenSearchServerless::SecurityPolicy' || resource.Properties?.Type !== 'encryption') {
      continue;
    }
    try {
      const policy = JSON.parse(typeof resource.Properties.Policy === 'string' ? resource.Properties.Policy : '{}');
      const names = (policy.Rules ?? []).flatMap((r: any) => r.Resource ?? []);
      if (typeof name === 'string' && names.includes(`collection/${name}`) && policy.KmsARN) {
        return String(policy.KmsARN);
      }
    } catch {
      // A policy built from tokens cannot be read here; the collection counts as using the AWS-owned key.
    }
  }
  return 'aws-owned';
}

function priceSearchDomain(id: string, type: string, props: any): CostLine[] {
  const cluster = props.ClusterConfig ?? props.ElasticsearchClusterConfig ?? {};
  const instanceType: string | undefined = cluster.InstanceType;
  const count = Number(cluster.InstanceCount ?? 1);
  const lines: CostLine[] = [];
  const rate = instanceType ? OPENSEARCH_DOMAIN.instanceHour[instanceType] : undefined;
  lines.push(rate
    ? hourly(id, type, `OpenSearch ${instanceType} instance`, count, 'instance', rate)
    : unpriced(id, type, `${count} x ${instanceType ?? 'default'} instance(s)`, `no price for instance type ${instanceType ?? '(default)'}`));
  if (cluster.DedicatedMasterEnabled) {
    const master = cluster.DedicatedMasterType ? OPENSEARCH_DOMAIN.instanceHour[cluster.DedicatedMasterType] : undefined;
    const masters = Number(cluster.DedicatedMasterCount ?? 3);
    lines.push(master
      ? hourly(id, type, `OpenSearch dedicated master ${cluster.DedicatedMasterType}`, masters, 'instance', master)
      : unpriced(id, type, `${masters} dedicated master(s)`, `no price for ${cluster.DedicatedMasterType ?? 'the default master type'}`));
  }
  if (props.EBSOptions?.EBSEnabled !== false && props.EBSOptions?.VolumeSize !== undefined) {
    const gb = Number(props.EBSOptions.VolumeSize) * count;
    lines.push(monthly(id, type, `OpenSearch ${props.EBSOptions.VolumeType ?? 'gp'} storage (${count} x ${props.EBSOptions.VolumeSize} GB)`, gb, 'GB',
      OPENSEARCH_DOMAIN.gp3GbMonth, props.EBSOptions.VolumeType && props.EBSOptions.VolumeType !== 'gp3' ? 'gp3 rate assumed' : undefined));
  }
  return lines;
}

function priceWebAcl(id: string, props: any): CostLine[] {
  const type = 'AWS::WAFv2::WebACL';
  const rules = Array.isArray(props.Rules) ? props.Rules.length : 0;
  return [
    monthly(id, type, 'WAF web ACL', 1, 'web ACL', WAF.webAclMonth, 'requests are usage-priced'),
    monthly(id, type, 'WAF rules (managed rule groups count as one rule each)', rules, 'rule', WAF.ruleMonth),
  ];
}

function priceAlarm(id: string, props: any): CostLine {
  const type = 'AWS::CloudWatch::Alarm';
  if (Array.isArray(props.Metrics)) {
    const stats = props.Metrics.filter((m: any) => m.MetricStat);
    const metrics = Math.max(stats.length, 1);
    const highResolution = stats.some((m: any) => Number(m.MetricStat.Period) < 60);
    return monthly(id, type, `metric-math alarm (${metrics} metric(s))`, metrics, 'alarm metric',
      highResolution ? CLOUDWATCH_ALARM.highResolutionMetricMonth : CLOUDWATCH_ALARM.standardMetricMonth);
  }
  const highResolution = Number(props.Period ?? 60) < 60;
  return monthly(id, type, highResolution ? 'high-resolution alarm' : 'standard alarm', 1, 'alarm metric',
    highResolution ? CLOUDWATCH_ALARM.highResolutionMetricMonth : CLOUDWATCH_ALARM.standardMetricMonth);
}

function priceTable(id: string, props: any): CostLine[] {
  const type = 'AWS::DynamoDB::Table';
  // CloudFormation's default billing mode is PROVISIONED:
  // https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-dynamodb-table.html
  if (props.BillingMode === 'PAY_PER_REQUEST') {
    return [usage(id, type, 'on-demand requests; storage (first 25 GB free) and PITR by GB')];
  }
  const throughput = [props.ProvisionedThroughput, ...(props.GlobalSecondaryIndexes ?? []).map((g: any) => g.ProvisionedThroughput)].filter(Boolean);
  const wcu = throughput.reduce((n: number, t: any) => n + Number(t.WriteCapacityUnits ?? 0), 0);
  const rcu = throughput.reduce((n: number, t: any) => n + Number(t.ReadCapacityUnits ?? 0), 0);
  return [
    hourly(id, type, 'DynamoDB provisioned write capacity', wcu, 'WCU', DYNAMODB_PROVISIONED.wcuHour, 'account free tier (25 WCU/25 RCU) not applied'),
    hourly(id, type, 'DynamoDB provisioned read capacity', rcu, 'RCU', DYNAMODB_PROVISIONED.rcuHour),
  ];
}

function hourly(logicalId: string, type: string, item: string, quantity: number, unit: string, rate: Price, note?: string): CostLine {
  return line(logicalId, type, item, quantity, unit, monthlyFromHourly(rate, quantity), note ?? rate.assumption);
}

function monthly(logicalId: string, type: string, item: string, quantity: number, unit: string, rate: Price, note?: string): CostLine {
  return line(logicalId, type, item, quantity, unit, rate.usd * quantity, note ?? rate.assumption);
}

function line(logicalId: string, type: string, item: string, quantity: number, unit: string, dollars: number, note?: string): CostLine {
  return note === undefined
    ? { logicalId, type, kind: 'priced', item, quantity, unit, monthly: round2(dollars) }
    : { logicalId, type, kind: 'priced', item, quantity, unit, monthly: round2(dollars), note };
}

function usage(logicalId: string, type: string, what: string): CostLine {
  return { logicalId, type, kind: 'usage-priced', item: what, quantity: 0, unit: 'idle', monthly: 0 };
}

function unpriced(logicalId: string, type: string, what: string, note: string): CostLine {
  return { logicalId, type, kind: 'unpriced', item: what, quantity: 0, unit: '-', monthly: 0, note };
}

/** The logical id a Ref or Fn::GetAtt points at. */
function refTarget(value: any): string | undefined {
  if (value && typeof value === 'object') {
    if (typeof value.Ref === 'string') {
      return value.Ref;
    }
    const getAtt = value['Fn::GetAtt'];
    if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') {
      return getAtt[0];
    }
    if (typeof getAtt === 'string') {
      return getAtt.split('.')[0];
    }
  }
  return undefined;
}

/** Every logical id referenced anywhere inside a value (Ref, Fn::GetAtt, nested in Fn::Join and the like). */
function referencedIds(value: any, found = new Set<string>()): Set<string> {
  const target = refTarget(value);
  if (target !== undefined) {
    found.add(target);
  } else if (Array.isArray(value)) {
    value.forEach(v => referencedIds(v, found));
  } else if (value && typeof value === 'object') {
    Object.values(value).forEach(v => referencedIds(v, found));
  }
  return found;
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
