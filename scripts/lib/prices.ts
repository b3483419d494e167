/**
 * AWS prices used by the idle-cost estimator and the break-even calculator: us-east-1, on-demand, USD.
 * Every figure carries its source and the date that source states ("undated" where it states none). Most
 * come from the project's price survey (shared reference PRICES.md, compiled 2026-11-23); where no source
 * was found, `assumption` says what was assumed instead.
 */
export interface Price {
  /** US dollars per `unit`. */
  readonly usd: number;
  readonly unit: string;
  readonly source: string;
  /** The date the source states, or "undated". */
  readonly date: string;
  /** Set when no source gives this figure: what was assumed, and why. */
  readonly assumption?: string;
}

/** Hours in the estimator's month. */
export const HOURS_PER_MONTH = 730;
/** Minutes in the estimator's month (730 h). */
export const MINUTES_PER_MONTH = HOURS_PER_MONTH * 60;
/** Seconds in the estimator's month (730 h). */
export const SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600;

function price(usd: number, unit: string, source: string, date: string, assumption?: string): Price {
  return assumption === undefined ? { usd, unit, source, date } : { usd, unit, source, date, assumption };
}

const PRICES_MD = 'PRICES.md survey';

export const FARGATE = {
  x86: {
    vcpuHour: price(0.04048, 'vCPU-hour', `${PRICES_MD}: vantage.sh/blog/fargate-pricing; factualminds.com Fargate 2026; infracost ecs_service_test.golden`, '2026-06-17'),
    gbHour: price(0.004445, 'GB-hour', `${PRICES_MD}: vantage.sh/blog/fargate-pricing; factualminds.com Fargate 2026; infracost ecs_service_test.golden`, '2026-06-17'),
  },
  arm: {
    vcpuHour: price(0.03238, 'vCPU-hour', `${PRICES_MD}: vantage.sh/blog/fargate-pricing`, 'undated'),
    gbHour: price(0.00356, 'GB-hour', `${PRICES_MD}: vantage.sh/blog/fargate-pricing`, 'undated'),
  },
};

export const LOAD_BALANCER = {
  albHour: price(0.0225, 'ALB-hour', `${PRICES_MD}: aws.amazon.com/elasticloadbalancing/pricing example via api-evangelist; infracost lb_test.golden`, '2026-09-20'),
  albLcuHour: price(0.008, 'LCU-hour', `${PRICES_MD}: aws.amazon.com/elasticloadbalancing/pricing example via api-evangelist`, '2026-09-20'),
  nlbHour: price(0.0225, 'NLB-hour', `${PRICES_MD}: infracost lb_test.golden`, 'undated'),
};

export const NAT_GATEWAY_HOUR = price(0.045, 'NAT gateway-hour', `${PRICES_MD}: aws.amazon.com/vpc/pricing example via api-evangelist; cloudburn.io`, '2026-09-20');

export const PUBLIC_IPV4_HOUR = price(0.005, 'public IPv4 address-hour', `${PRICES_MD}: community.aws "AWS to Charge Public IPv4 Addresses" (effective 2024-02-01)`, '2024-02-08');

export const INTERFACE_ENDPOINT_AZ_HOUR = price(0.01, 'endpoint ENI (subnet/AZ)-hour', `${PRICES_MD}: awsnegotiations.com (May 2026), egresscost.com (2026-03); billing per AZ-hour from aws.amazon.com/privatelink/pricing`, '2026-05',
  'The hourly figure is from third parties only; AWS\'s page states the per-AZ-hour billing but its number was not captured.');

/** ElastiCache node-hours by node type, Redis OSS and Memcached. */
export const ELASTICACHE_NODE_HOUR: Record<string, Price> = {
  'cache.m4.large': price(0.156, 'node-hour', `${PRICES_MD}: infracost elasticache_cluster_test.golden`, 'undated'),
  'cache.t2.micro': price(0.017, 'node-hour', `${PRICES_MD}: dragonflydb.io/finops/elasticache/cache.t2.micro`, 'undated'),
  'cache.t3.micro': price(0.017, 'node-hour', `${PRICES_MD}: dragonflydb.io/finops/elasticache/cache.t3.micro`, 'undated'),
  'cache.t4g.small': price(0.032, 'node-hour', `${PRICES_MD}: an infracost-style output (1,460 h -> $46.72)`, 'undated',
    'No dated us-east-1 source found; the region of the infracost-style figure is unknown. An undated repository document gives ~$24.50/month, which agrees.'),
  'cache.t4g.micro': price(0.016, 'node-hour', `${PRICES_MD}: an undated repository document (~$12.20/month)`, 'undated',
    'No dated us-east-1 source found; taken as half of cache.t4g.small, within 5 % of the undated ~$12.20/month.'),
};

/** Node-based Valkey costs this fraction of the Redis OSS node price. */
export const VALKEY_NODE_FACTOR = price(0.8, 'x Redis OSS node price', `${PRICES_MD}: amazonaws.cn ElastiCache FAQ ("up to 20% lower cost per node")`, 'undated',
  'No per-node Valkey figures found; 0.8 x the Redis OSS price is derived from "up to 20% lower".');

export const ELASTICACHE_SERVERLESS = {
  redis: {
    gbHour: price(0.125, 'GB-hour', `${PRICES_MD}: AWS Database Blog "Unlock on-demand, cost-optimized performance with ElastiCache Serverless"; gomomento.com`, '2023-11'),
    minimumGb: 1,
  },
  valkey: {
    gbHour: price(0.084, 'GB-hour', `${PRICES_MD}: usage.ai (citing pump.co, Mar 2025); "33% lower" on the aws.eu ElastiCache pricing page`, '2026-06'),
    minimumGb: 0.1,
  },
};

export const OPENSEARCH_SERVERLESS = {
  ocuHour: price(0.24, 'OCU-hour', `${PRICES_MD}: cloudburn.io (states the official page), c3x.dev`, '2026-03'),
  /** Minimum OCUs: 0.5 indexing + 0.5 search, doubled with standby replicas (docs.aws.amazon.com ... serverless-scaling.html). */
  minimumOcuWithStandby: 2,
  minimumOcuWithoutStandby: 1,
};

export const OPENSEARCH_DOMAIN = {
  instanceHour: {
    't3.small.search': price(0.036, 'instance-hour', `${PRICES_MD}: third-party document citing instances.vantage.sh`, 'undated'),
  } as Record<string, Price>,
  gp3GbMonth: price(0.122, 'GB-month', `${PRICES_MD}: third-party document citing aws.amazon.com/opensearch-service/pricing`, 'undated'),
};

export const WAF = {
  webAclMonth: price(5, 'web ACL-month', `${PRICES_MD}: c3x.dev; awsnegotiations.com (2026)`, '2026'),
  ruleMonth: price(1, 'rule-month', `${PRICES_MD}: c3x.dev; awsnegotiations.com (2026)`, '2026'),
};

export const SECRET_MONTH = price(0.4, 'secret-month', `${PRICES_MD}: hivebook.wiki (third party)`, 'undated', 'No AWS page found; the third-party figure is used.');

export const KMS_KEY_MONTH = price(1, 'customer-managed key-month', `${PRICES_MD}: aws.amazon.com/kms/pricing`, 'undated');

export const CLOUDWATCH_ALARM = {
  standardMetricMonth: price(0.1, 'alarm metric-month (60 s or longer period)', 'c3x.dev/resources/aws/aws_cloudwatch_metric_alarm; cloudcostkit.com/guides/aws-cloudwatch-alarms-pricing ("count per metric")', '2026-02-07',
    'PRICES.md has no alarm price. Alarms are billed per metric they watch, so a metric-math alarm is priced by the metrics in its expression.'),
  highResolutionMetricMonth: price(0.3, 'alarm metric-month (period under 60 s)', 'c3x.dev/resources/aws/aws_cloudwatch_metric_alarm', 'undated'),
  compositeMonth: price(0.5, 'composite alarm-month', 'c3x.dev/resources/aws/aws_cloudwatch_metric_alarm', 'undated'),
};

export const DYNAMODB_PROVISIONED = {
  wcuHour: price(0.00065, 'WCU-hour', `${PRICES_MD}: infracost dynamodb_table_test.golden`, 'undated'),
  rcuHour: price(0.00013, 'RCU-hour', `${PRICES_MD}: infracost dynamodb_table_test.golden`, 'undated'),
};

/**
 * API Gateway WebSocket APIs: messages sent and received (metered in 32 KB increments) and connection
 * minutes; no idle floor. The 12-month free tier is left out.
 */
export const API_GATEWAY_WEBSOCKET = {
  messagesFirstBillion: price(1.0, 'million messages (first 1 billion a month)',
    'aws.amazon.com/api-gateway/pricing worked example, transcribed by api-evangelist/amazon-web-services plans-pricing.yml (read 2026-09-20); awsforengineers.com "AWS API Gateway Pricing Explained"', '2026-09-20'),
  messagesOverBillion: price(0.8, 'million messages (beyond 1 billion a month)', 'none found', 'undated',
    'The stored sources confirm only the first-billion rate; $0.80 beyond it is assumed (the tier AWS has long listed). Using $1.00 throughout would make API Gateway dearer and move crossovers lower.'),
  connectionMinutes: price(0.25, 'million connection-minutes',
    'aws.amazon.com/api-gateway/pricing worked example, transcribed by api-evangelist/amazon-web-services plans-pricing.yml (read 2026-09-20); repost.aws "how to interpret websocket api connection minutes pricing"', '2026-09-20'),
  messageIncrementBytes: 32 * 1024,
};

/**
 * AppSync Events: Event API operations (publishes, each delivered event, connects and subscribes) and
 * connection minutes; no idle floor. The 12-month free tier is left out.
 */
export const APPSYNC_EVENTS = {
  operations: price(1.0, 'million Event API operations',
    'AWS Price List ("$1 per million Event API operations", EffectiveDate 2024-09-01) as transcribed in huggingface.co/datasets/labofsahil/aws-pricing-dataset AWSAppSync.csv', '2024-09-01',
    'The transcribed row is for EU (Ireland); the same rate is assumed for us-east-1.'),
  connectionMinutes: price(0.08, 'million connection-minutes', 'aws.amazon.com/appsync/pricing ("$0.08 per million connection-minutes", pricing example 2)', 'undated',
    'The page states this rate for AppSync real-time connections; the same rate is assumed for Event API connections.'),
  eventIncrementBytes: 5 * 1024,
};

/** Monthly cost of something billed by the hour, over the estimator's 730-hour month. */
export function monthlyFromHourly(hourly: Price, quantity = 1): number {
  return hourly.usd * quantity * HOURS_PER_MONTH;
}

/** One line per price for documentation: name, rate, unit, source, date, assumption. */
export function priceTable(): Array<{ name: string; price: Price }> {
  const rows: Array<{ name: string; price: Price }> = [];
  const walk = (prefix: string, value: unknown) => {
    if (isPrice(value)) {
      rows.push({ name: prefix, price: value });
    } else if (value !== null && typeof value === 'object') {
      for (const [key, child] of Object.entries(value)) {
        walk(prefix ? `${prefix}.${key}` : key, child);
      }
    }
  };
  walk('', {
    FARGATE,
    LOAD_BALANCER,
    NAT_GATEWAY_HOUR,
    PUBLIC_IPV4_HOUR,
    INTERFACE_ENDPOINT_AZ_HOUR,
    ELASTICACHE_NODE_HOUR,
    VALKEY_NODE_FACTOR,
    ELASTICACHE_SERVERLESS,
    OPENSEARCH_SERVERLESS,
    OPENSEARCH_DOMAIN,
    WAF,
    SECRET_MONTH,
    KMS_KEY_MONTH,
    CLOUDWATCH_ALARM,
    DYNAMODB_PROVISIONED,
    API_GATEWAY_WEBSOCKET,
    APPSYNC_EVENTS,
  });
  return rows;
}

function isPrice(value: unknown): value is Price {
  return value !== null && typeof value === 'object' && typeof (value as Price).usd === 'number' && typeof (value as Price).source === 'string';
}
