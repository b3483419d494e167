import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as integrations from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sources from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as aoss from 'aws-cdk-lib/aws-opensearchserverless';
import * as opensearch from 'aws-cdk-lib/aws-opensearchservice';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { IndexField, IndexFieldType } from './index-field';
import { IndexerFunction } from './indexer-function';
import { SearchFunction } from './search-function';
import { SearchTarget } from './search-target';
import { acknowledgeApiInvokePermissions } from '../private/lambda-permissions';
import { LogGroupSettings, constructLogGroup } from '../private/log-group';
import { acknowledgeControl, acknowledgeNag, acknowledgeWildcards } from '../private/nag';
import { SearchBackend, isSearchable, lowerCaseName } from '../private/search-backend';
import { ExistingSearchCollection, SearchCollection } from '../private/search-collection';
import { ExistingSearchDomain, SearchDomain } from '../private/search-domain';
import { checkInteger, checkSeconds, invalidProp } from '../private/validation';

/**
 * Props of a `StreamIndexer`.
 */
export interface StreamIndexerProps {
  /**
   * The table to index. It needs a stream with new images (`StreamViewType.NEW_IMAGE` or
   * `NEW_AND_OLD_IMAGES`).
   */
  readonly table: dynamodb.ITable;
  /**
   * The key attributes whose values, joined with `:`, make each document's id, e.g. `['room', 'message']`.
   * Ids are stable, so replays and retries overwrite instead of duplicating, and a deleted item deletes its
   * document (removals carry only the keys).
   */
  readonly documentId: string[];
  /** The attributes copied into each document, with their mapping. */
  readonly fields: IndexField[];
  /**
   * The index name: lower-case letters, digits, hyphens and underscores, starting with a letter or digit.
   * @default - the construct's own id (not its path) followed by `-index`, in lower case with other
   * characters turned into hyphens and shortened to 64 characters, e.g. `search-index` for the id `Search`
   */
  readonly indexName?: string;
  /**
   * Where the documents live: a collection or domain the construct makes, or an existing one
   * (`SearchTarget.existingCollection()`, `SearchTarget.existingDomain()`).
   * @default SearchTarget.serverless()
   */
  readonly target?: SearchTarget;
  /**
   * Run both functions in this VPC. A serverless collection the construct makes is then reachable only
   * through an OpenSearch Serverless VPC endpoint it creates; an existing collection's network policy must
   * admit a VPC endpoint of this VPC. A domain the construct makes always lives here and requires it; an
   * existing domain in a VPC needs its VPC here.
   * @default - the functions run outside a VPC and sign requests to the collection's public endpoint
   */
  readonly vpc?: ec2.IVpc;
  /**
   * Subnets of the functions, the VPC endpoint and the domain.
   * @default - private subnets with egress
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /**
   * Stream records per indexer invocation, sent as one bulk request.
   * @default 100
   */
  readonly batchSize?: number;
  /**
   * How long Lambda gathers records before invoking the indexer.
   * @default Duration.seconds(1)
   */
  readonly maxBatchingWindow?: Duration;
  /**
   * Retries of a failing batch (it is split in halves on each error) before its records go to the dead-letter queue.
   * @default 5
   */
  readonly retryAttempts?: number;
  /**
   * Records older than this go to the dead-letter queue instead of being indexed.
   * @default Duration.days(1)
   */
  readonly maxRecordAge?: Duration;
  /**
   * The iterator age (how far indexing lags behind the table) that raises `iteratorAgeAlarm`.
   * @default Duration.minutes(5)
   */
  readonly iteratorAgeAlarmThreshold?: Duration;
  /**
   * The HTTP API to add `GET /search` to. Create it first when it also sits behind a `CdnFrontDoor`, so the
   * front door's `originCheckAuthorizer()` can be given as `searchAuthorizer`. An API made in this app
   * (`HttpApi`) lends the route its default authorizer; the default authorizer of an imported API
   * (`HttpApi.fromHttpApiAttributes`) cannot be seen, so give `searchAuthorizer` (or `publicSearch`) with one.
   * @default - a new HTTP API with access logs and throttling
   */
  readonly searchApi?: apigwv2.IHttpApi;
  /**
   * The authorizer of the `GET /search` route, e.g. a `CdnFrontDoor`'s `originCheckAuthorizer()`, an IAM or
   * a JWT authorizer. The route answers with whole documents, so it must have one unless `publicSearch` is
   * true; giving both is an error.
   * @default - the default authorizer of `searchApi`, if it has one; otherwise synthesis fails unless `publicSearch` is true
   */
  readonly searchAuthorizer?: apigwv2.IHttpRouteAuthorizer;
  /**
   * Serve `GET /search` to anyone who can reach the API, without an authorizer. Each hit carries the whole
   * document, that is every attribute listed in `fields` of every matching item, so set this only when all
   * of them may be public. Cannot be combined with `searchAuthorizer`.
   * @default false
   */
  readonly publicSearch?: boolean;
  /**
   * The largest `limit` the search API accepts (results per request).
   * @default 50
   */
  readonly maxSearchResults?: number;
  /**
   * The longest `q` the search API accepts, in characters.
   * @default 200
   */
  readonly maxQueryLength?: number;
  /**
   * A topic notified when `deadLetterAlarm` or `iteratorAgeAlarm` goes into alarm and when it recovers.
   * @default - no notification; the alarms are still visible in the console
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * How long the logs of the construct's functions, of the search API's access log and (for a domain target)
   * of the domain's slow, application and audit logs are kept. A year by default: the logs of a
   * public-facing system are its audit trail (who searched, what failed to index), and an incident is often
   * found months after it began; CloudWatch Logs storage costs little next to ingestion, which retention
   * does not change. Shorten it where search terms count as personal data that must not be kept that long.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * A KMS key that encrypts every log group the construct creates: the indexer's and the search function's,
   * the search API's access log (when it creates the API) and, for a domain target, the security
   * bootstrap's and the domain's slow, application and audit logs. CloudWatch Logs must be allowed to use
   * it: for a key created in this app the construct adds the statement AWS documents to its key policy
   * (the `logs.<region>.amazonaws.com` principal, for log groups of this account and region); an imported
   * key's policy must already allow it
   * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html).
   * @default - CloudWatch Logs' own encryption (AWS-owned key)
   */
  readonly logEncryptionKey?: kms.IKey;
  /**
   * What happens to the log groups the construct creates when they leave the stack: those of the functions
   * and of the search API's access log and, for a domain target, the security bootstrap's and the domain's
   * slow, application and audit logs.
   * @default - `cdk destroy` deletes the functions', the bootstrap's and the search API's log groups with
   * their events (RemovalPolicy.DESTROY), and keeps a domain's slow, application and audit log groups
   * (RemovalPolicy.RETAIN, as aws-cdk-lib's `Domain` does)
   */
  readonly logRemovalPolicy?: RemovalPolicy;
}

/**
 * Indexes a DynamoDB table into OpenSearch from its stream, and serves prefix search over it from an HTTP API.
 *
 * The indexer function creates the index with its mapping before its first write, then turns each batch of
 * stream records into one bulk request: inserts and modifications are upserts, removals are deletes, both
 * by a document id made from key attributes. Failed records are reported individually; a failing batch is
 * split and retried a bounded number of times, and what still fails (or grows older than `maxRecordAge`)
 * goes to an encrypted dead-letter queue. Alarms watch that queue and the stream's iterator age.
 *
 * The search function answers `GET /search?q=&limit=` (plus one exact-match parameter per filterable
 * field, e.g. `&room=`) with a `bool_prefix` query across the searchable fields. The route needs an
 * authorizer (`searchAuthorizer`, or the default authorizer of `searchApi`) unless `publicSearch` opens it
 * to anyone. See `SearchTarget` for the idle cost of each target.
 *
 * @example
 * declare const messages: dynamodb.Table;
 * declare const searchApi: apigwv2.HttpApi;
 * declare const frontDoor: CdnFrontDoor;
 * new StreamIndexer(this, 'Search', {
 *   table: messages,
 *   documentId: ['room', 'message'],
 *   fields: [
 *     { name: 'text', type: IndexFieldType.SEARCH_AS_YOU_TYPE },
 *     { name: 'room', type: IndexFieldType.KEYWORD, filterable: true },
 *     { name: 'time', type: IndexFieldType.DATE },
 *   ],
 *   searchApi,
 *   searchAuthorizer: frontDoor.originCheckAuthorizer(),
 * });
 */
export class StreamIndexer extends Construct {
  /** The function that writes stream records to the index. */
  public readonly indexerFunction: lambda.Function;
  /** The function behind `GET /search`. */
  public readonly searchFunction: lambda.Function;
  /** The HTTP API that serves `GET /search`. */
  public readonly searchApi: apigwv2.IHttpApi;
  /** The URL of the search route on the API's own endpoint. */
  public readonly searchUrl: string;
  /** Records that could not be indexed (their stream positions, to replay from the table). */
  public readonly deadLetterQueue: sqs.Queue;
  /** In alarm while the dead-letter queue holds records. */
  public readonly deadLetterAlarm: cloudwatch.Alarm;
  /** In alarm while indexing lags the table by more than `iteratorAgeAlarmThreshold`. */
  public readonly iteratorAgeAlarm: cloudwatch.Alarm;
  /** The index name. */
  public readonly indexName: string;
  /** `https://host` of the collection or domain. */
  public readonly endpoint: string;
  /** The serverless collection, when the target is a collection the construct makes (`SearchTarget.serverless()`). */
  public readonly collection?: aoss.CfnCollection;
  /** The managed domain, when the target is a domain the construct makes (`SearchTarget.domain()`). */
  public readonly domain?: opensearch.Domain;
  private readonly backend: SearchBackend;
  private readonly logRemovalPolicy: RemovalPolicy;

  constructor(scope: Construct, id: string, props: StreamIndexerProps) {
    super(scope, id);
    this.validate(props);
    this.indexName = props.indexName ?? lowerCaseName(`${id}-index`, 64);
    const target = props.target ?? SearchTarget.serverless();
    const logSettings: LogGroupSettings = { retention: props.logRetention, encryptionKey: props.logEncryptionKey };
    this.logRemovalPolicy = props.logRemovalPolicy ?? RemovalPolicy.DESTROY;

    const indexerRole = this.createFunctionRole('IndexerRole', 'writes the table\'s stream to the index', props.vpc);
    const searchRole = this.createFunctionRole('SearchRole', 'answers GET /search', props.vpc);
    const backend = this.createBackend(target, props, indexerRole, searchRole, logSettings);
    this.backend = backend;
    this.endpoint = backend.endpoint;
    this.collection = backend instanceof SearchCollection ? backend.collection : undefined;
    this.domain = backend instanceof SearchDomain ? backend.domain : undefined;

    this.deadLetterQueue = this.createDeadLetterQueue();
    this.indexerFunction = this.createIndexer(props, backend, indexerRole, logSettings);
    this.searchFunction = this.createSearch(props, backend, searchRole, logSettings);
    backend.grantIndexer(indexerRole);
    backend.grantSearch(searchRole);

    this.searchApi = props.searchApi ?? this.createSearchApi(logSettings);
    const route = this.addSearchRoute(this.searchApi, props.searchAuthorizer);
    const publicRoute = this.checkSearchAccess(props, route);
    acknowledgeApiInvokePermissions(route, this.searchFunction);
    this.searchUrl = `${this.searchApi.apiEndpoint}/search`;

    this.deadLetterAlarm = this.createDeadLetterAlarm();
    this.iteratorAgeAlarm = this.createIteratorAgeAlarm(props.iteratorAgeAlarmThreshold ?? Duration.minutes(5));
    if (props.alarmTopic) {
      const action = new cloudwatchActions.SnsAction(props.alarmTopic);
      for (const alarm of [this.deadLetterAlarm, this.iteratorAgeAlarm]) {
        alarm.addAlarmAction(action);
        alarm.addOkAction(action);
      }
    }
    this.acknowledgeNagFindings(props, publicRoute, indexerRole, searchRole);
  }

  /**
   * Lets a principal query the index directly, e.g. a service that runs its own queries or a dashboard's
   * task role; `GET /search` needs no grant (its authorizer decides). Both sides are granted: the
   * principal's IAM policy, and the collection's or domain's own access control.
   *
   * - Serverless collection: `aoss:APIAccessAll` on the collection, and a data access policy rule that
   *   lets the principal describe the index and read its documents. A principal of this stack joins the
   *   collection's data access policy; one of another stack gets a data access policy of its own in that
   *   stack (naming the collection by name), so the stacks do not depend on each other. Roles and users.
   * - Domain: `es:ESHttpGet` and `es:ESHttpPost` on the index's `_search` and `_count`, in its IAM policy
   *   and in the domain's access policy, and the security bootstrap maps it to the index's read-only role. Roles only (fine-grained access control maps backend roles), and
   *   only roles of the domain's stack (import one there with `iam.Role.fromRoleArn`).
   * - Existing domain (`SearchTarget.existingDomain()`): the same IAM policy only; its owner must admit
   *   and map the role.
   */
  public grantSearch(grantee: iam.IGrantable): iam.Grant {
    return this.backend.grantReader(grantee);
  }

  /** Invocations of the indexer function that failed (each is retried, split, or sent to the dead-letter queue). */
  public metricIndexingErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.indexerFunction.metricErrors(props);
  }

  /**
   * How far indexing lags behind the table: the age of the newest stream record the indexer has read when
   * it is invoked (Lambda's `IteratorAge`, in milliseconds). `iteratorAgeAlarm` watches it.
   * @default - maximum over 1 minute
   */
  public metricIteratorAge(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.indexerFunction.metric('IteratorAge', { statistic: 'Maximum', period: Duration.minutes(1), ...props });
  }

  /**
   * Stream records that could not be indexed and wait in the dead-letter queue (its
   * `ApproximateNumberOfMessagesVisible`). `deadLetterAlarm` watches it.
   * @default - maximum over 1 minute
   */
  public metricDeadLetterMessages(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: Duration.minutes(1), ...props });
  }

  private validate(props: StreamIndexerProps): void {
    if (props.publicSearch && props.searchAuthorizer) {
      invalidProp(this, 'publicSearch', true, 'contradicts searchAuthorizer, which restricts GET /search',
        'give searchAuthorizer to restrict search, or publicSearch: true to open it to anyone, not both');
    }
    if (props.target?.existingDomainAttributes?.clientSecurityGroups && !props.vpc) {
      invalidProp(this, 'target', 'SearchTarget.existingDomain()', 'has clientSecurityGroups, but vpc is not set, so the functions would not run in them',
        'give the domain\'s vpc, or leave out clientSecurityGroups for a domain with a public endpoint');
    }
    if (props.target?.domainOptions && !props.vpc) {
      invalidProp(this, 'target', 'SearchTarget.domain()', 'puts the domain in a VPC, but vpc is not set', 'give vpc, or use SearchTarget.serverless()');
    }
    if (!props.table.tableStreamArn) {
      invalidProp(this, 'table', props.table.node.path, 'has no stream',
        'create the table with stream: StreamViewType.NEW_IMAGE (or import it with tableStreamArn)');
    }
    const viewType = streamViewType(props.table);
    if (viewType !== undefined && viewType !== dynamodb.StreamViewType.NEW_IMAGE && viewType !== dynamodb.StreamViewType.NEW_AND_OLD_IMAGES) {
      invalidProp(this, 'table stream', viewType, 'carries no new images to index', 'use StreamViewType.NEW_IMAGE or NEW_AND_OLD_IMAGES');
    }
    if (props.documentId.length === 0) {
      invalidProp(this, 'documentId', '[]', 'is empty', 'list the key attributes that identify an item, e.g. [\'room\', \'message\']');
    }
    const keys = keyAttributes(props.table);
    for (const attribute of props.documentId) {
      if (keys && !keys.includes(attribute)) {
        invalidProp(this, 'documentId', attribute, `is not a key attribute of the table (${keys.join(', ')}); removals carry only the keys`,
          'use key attributes only');
      }
    }
    if (props.fields.length === 0) {
      invalidProp(this, 'fields', '[]', 'is empty', 'list the attributes to index');
    }
    const names = new Set<string>();
    for (const field of props.fields) {
      if (!/^[A-Za-z_][A-Za-z0-9_]{0,99}$/.test(field.name)) {
        invalidProp(this, 'fields name', field.name, 'is not a plain field name', 'use letters, digits and underscores, starting with a letter');
      }
      if (names.has(field.name)) {
        invalidProp(this, 'fields name', field.name, 'is listed twice', 'list each field once');
      }
      names.add(field.name);
      if (field.searchable && field.type !== IndexFieldType.TEXT && field.type !== IndexFieldType.SEARCH_AS_YOU_TYPE) {
        invalidProp(this, `fields ${field.name} searchable`, true, `cannot apply to a ${field.type} field; prefix search needs text`,
          'make it TEXT or SEARCH_AS_YOU_TYPE, or use filterable for exact matches');
      }
      if (field.filterable && field.type !== IndexFieldType.KEYWORD) {
        invalidProp(this, `fields ${field.name} filterable`, true, `cannot apply to a ${field.type} field; filters match exact keywords`,
          'make the field KEYWORD');
      }
      if (field.filterable && ['q', 'limit'].includes(field.name)) {
        invalidProp(this, 'fields name', field.name, 'would clash with the search API\'s own parameter', 'rename the field or leave it unfilterable');
      }
    }
    if (!props.fields.some(isSearchable)) {
      invalidProp(this, 'fields', props.fields.map(f => f.name).join(', '), 'has no searchable field', 'add a TEXT or SEARCH_AS_YOU_TYPE field');
    }
    if (props.indexName !== undefined && !/^[a-z0-9][a-z0-9_-]{0,254}$/.test(props.indexName)) {
      invalidProp(this, 'indexName', props.indexName, 'is not an index name', 'use lower-case letters, digits, hyphens and underscores, starting with a letter or digit');
    }
    checkInteger(this, 'batchSize', props.batchSize, 1, 10_000);
    checkInteger(this, 'retryAttempts', props.retryAttempts, 0, 10_000);
    checkInteger(this, 'maxSearchResults', props.maxSearchResults, 1, 100);
    checkInteger(this, 'maxQueryLength', props.maxQueryLength, 1, 1_000);
    if (props.maxRecordAge) {
      checkSeconds(this, 'maxRecordAge', props.maxRecordAge, 60, 604_800, 'the event source mapping\'s record age');
    }
    if (props.maxBatchingWindow) {
      checkSeconds(this, 'maxBatchingWindow', props.maxBatchingWindow, 0, 300, 'the event source mapping\'s batching window');
    }
  }

  /**
   * An API made in this app adds the route itself, with its default authorizer when none is given; an
   * imported one gets a route of this construct, guarded only by `searchAuthorizer`.
   */
  private addSearchRoute(api: apigwv2.IHttpApi, authorizer: apigwv2.IHttpRouteAuthorizer | undefined): apigwv2.HttpRoute {
    const integration = new integrations.HttpLambdaIntegration('Search', this.searchFunction);
    if (api instanceof apigwv2.HttpApi) {
      const [route] = api.addRoutes({ path: '/search', methods: [apigwv2.HttpMethod.GET], integration, authorizer });
      return route;
    }
    return new apigwv2.HttpRoute(this, 'SearchRoute', {
      httpApi: api,
      routeKey: apigwv2.HttpRouteKey.with('/search', apigwv2.HttpMethod.GET),
      integration,
      authorizer,
    });
  }

  private createFunctionRole(id: string, purpose: string, vpc: ec2.IVpc | undefined): iam.Role {
    return new iam.Role(this, id, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `The function of ${this.node.path} that ${purpose}`,
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName(
        vpc ? 'service-role/AWSLambdaVPCAccessExecutionRole' : 'service-role/AWSLambdaBasicExecutionRole')],
    });
  }

  /**
   * The route returns whole documents: it must have an authorizer (given, or the API's default) unless
   * `publicSearch` asks for it to be open. Returns the route's CfnRoute when it is public.
   */
  private checkSearchAccess(props: StreamIndexerProps, route: apigwv2.HttpRoute): apigwv2.CfnRoute | undefined {
    const cfn = route.node.defaultChild as apigwv2.CfnRoute;
    const open = cfn.authorizationType === undefined || cfn.authorizationType === 'NONE';
    if (open && !props.publicSearch) {
      invalidProp(this, 'searchAuthorizer', props.searchAuthorizer?.constructor.name,
        'leaves GET /search open to anyone, and it answers with whole documents',
        'give searchAuthorizer (e.g. a CdnFrontDoor\'s originCheckAuthorizer(), or an IAM or JWT authorizer), or set publicSearch: true if every indexed field may be public');
    }
    if (!open && props.publicSearch) {
      invalidProp(this, 'publicSearch', true, `contradicts the default authorizer of searchApi, which guards GET /search (${cfn.authorizationType})`,
        'drop publicSearch, or give a searchApi without a default authorizer');
    }
    return open ? cfn : undefined;
  }

  private createBackend(target: SearchTarget, props: StreamIndexerProps, indexerRole: iam.Role, searchRole: iam.Role,
    logSettings: LogGroupSettings): SearchBackend {
    if (target.existingCollectionAttributes) {
      return new ExistingSearchCollection(this, 'Collection', { ...target.existingCollectionAttributes, indexName: this.indexName });
    }
    if (target.existingDomainAttributes) {
      return new ExistingSearchDomain(this, 'Domain', { ...target.existingDomainAttributes, indexName: this.indexName });
    }
    if (target.domainOptions) {
      return new SearchDomain(this, 'Domain', {
        ...target.domainOptions,
        vpc: props.vpc!,
        vpcSubnets: props.vpcSubnets,
        indexName: this.indexName,
        indexerRole,
        searchRole,
        logSettings,
        logRemovalPolicy: props.logRemovalPolicy,
      });
    }
    return new SearchCollection(this, 'Collection', {
      ...target.serverlessOptions, indexName: this.indexName, vpc: props.vpc, vpcSubnets: props.vpcSubnets,
    });
  }

  private createDeadLetterQueue(): sqs.Queue {
    const queue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    const reason = 'This queue is itself the dead-letter destination of the indexer\'s event source; records in it are replayed from the table, not redelivered.';
    acknowledgeNag(queue, 'SQS3', reason);
    acknowledgeControl(queue, 'sqs_dlq_check', reason);
    return queue;
  }

  private functionOptions(props: StreamIndexerProps, backend: SearchBackend, role: iam.Role, name: string, logSettings: LogGroupSettings) {
    return {
      role,
      architecture: lambda.Architecture.ARM_64,
      vpc: props.vpc,
      vpcSubnets: props.vpc ? props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS } : undefined,
      securityGroups: props.vpc && backend.clientSecurityGroups.length > 0 ? backend.clientSecurityGroups : undefined,
      logGroup: constructLogGroup(this, `${name}Logs`, { ...logSettings, removalPolicy: this.logRemovalPolicy }),
    };
  }

  private createIndexer(props: StreamIndexerProps, backend: SearchBackend, role: iam.Role, logSettings: LogGroupSettings): lambda.Function {
    const fn = new IndexerFunction(this, 'Indexer', {
      ...this.functionOptions(props, backend, role, 'Indexer', logSettings),
      description: `Indexes ${props.table.node.path} into ${this.indexName}`,
      memorySize: 256,
      timeout: Duration.seconds(60),
      environment: {
        ...this.commonEnvironment(backend),
        SEARCH_DOCUMENT_ID: JSON.stringify(props.documentId),
        SEARCH_FIELDS: JSON.stringify(props.fields.map(f => ({ name: f.name, type: f.type }))),
      },
    });
    fn.addEventSource(new sources.DynamoEventSource(props.table, {
      startingPosition: lambda.StartingPosition.TRIM_HORIZON,
      batchSize: props.batchSize ?? 100,
      maxBatchingWindow: props.maxBatchingWindow ?? Duration.seconds(1),
      bisectBatchOnError: true,
      retryAttempts: props.retryAttempts ?? 5,
      maxRecordAge: props.maxRecordAge ?? Duration.days(1),
      reportBatchItemFailures: true,
      onFailure: new sources.SqsDlq(this.deadLetterQueue),
    }));
    // Records read before the target admits the indexer would fail, be retried and end in the dead-letter queue.
    if (backend.accessReady) {
      for (const mapping of fn.node.children.filter(c => c instanceof lambda.EventSourceMapping)) {
        mapping.node.addDependency(backend.accessReady);
      }
    }
    return fn;
  }

  private createSearch(props: StreamIndexerProps, backend: SearchBackend, role: iam.Role, logSettings: LogGroupSettings): lambda.Function {
    return new SearchFunction(this, 'Search', {
      ...this.functionOptions(props, backend, role, 'Search', logSettings),
      description: `Prefix search over ${this.indexName}`,
      memorySize: 256,
      timeout: Duration.seconds(10),
      environment: {
        ...this.commonEnvironment(backend),
        SEARCH_QUERY_FIELDS: JSON.stringify(props.fields.filter(isSearchable).map(f => ({ name: f.name, type: f.type }))),
        SEARCH_FILTER_FIELDS: JSON.stringify(props.fields.filter(f => f.filterable).map(f => f.name)),
        SEARCH_MAX_LIMIT: String(props.maxSearchResults ?? 50),
        SEARCH_MAX_QUERY_LENGTH: String(props.maxQueryLength ?? 200),
      },
    });
  }

  private commonEnvironment(backend: SearchBackend): Record<string, string> {
    return { SEARCH_ENDPOINT: backend.endpoint, SEARCH_SERVICE: backend.signingService, SEARCH_INDEX: this.indexName };
  }

  private createSearchApi(logSettings: LogGroupSettings): apigwv2.HttpApi {
    const api = new apigwv2.HttpApi(this, 'SearchApi', {
      description: `Search over ${this.indexName} (${this.node.path})`,
      createDefaultStage: false,
    });
    const accessLogs = constructLogGroup(this, 'SearchApiAccessLogs', { ...logSettings, removalPolicy: this.logRemovalPolicy });
    new apigwv2.HttpStage(this, 'SearchApiStage', {
      httpApi: api,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: 100, burstLimit: 200 },
      accessLogSettings: { destination: new apigwv2.LogGroupLogDestination(accessLogs) },
    });
    return api;
  }

  private createDeadLetterAlarm(): cloudwatch.Alarm {
    return this.metricDeadLetterMessages().createAlarm(this, 'DeadLetterAlarm', {
      alarmDescription: `Stream records of ${this.node.path} could not be indexed; replay them from the table`,
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  private createIteratorAgeAlarm(threshold: Duration): cloudwatch.Alarm {
    return this.metricIteratorAge().createAlarm(this, 'IteratorAgeAlarm', {
      alarmDescription: `Indexing of ${this.node.path} lags its table by more than ${threshold.toHumanString()}`,
      threshold: threshold.toMilliseconds(),
      evaluationPeriods: 5,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  private acknowledgeNagFindings(props: StreamIndexerProps, publicRoute: apigwv2.CfnRoute | undefined, ...roles: iam.Role[]): void {
    const managed = props.vpc ? 'AWSLambdaVPCAccessExecutionRole' : 'AWSLambdaBasicExecutionRole';
    for (const role of roles) {
      acknowledgeNag(role, `IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/${managed}]`,
        `The function uses ${managed} only to write its own logs${props.vpc ? ' and attach its network interfaces' : ''}.`);
      const policy = role.node.tryFindChild('DefaultPolicy')?.node.defaultChild;
      if (policy instanceof iam.CfnPolicy) {
        acknowledgeWildcards(policy, 'The wildcards are the stream listing that Lambda\'s event source needs (it has no resource-level form) and the index paths under this construct\'s own collection or domain.');
      }
    }
    if (publicRoute) {
      acknowledgeNag(publicRoute, 'APIG4',
        'The search route was made public by name (publicSearch: true): it reads only the fields listed as indexed, and its owner declared them fit for anyone.');
    }
  }
}

/** The stream view type of a table made in this app, when it can be read. */
function streamViewType(table: dynamodb.ITable): string | undefined {
  const cfn = table.node.defaultChild;
  if (cfn instanceof dynamodb.CfnTable) {
    const spec = Stack.of(cfn).resolve(cfn.streamSpecification);
    return spec?.streamViewType;
  }
  if (cfn instanceof dynamodb.CfnGlobalTable) {
    const spec = Stack.of(cfn).resolve(cfn.streamSpecification);
    return spec?.streamViewType;
  }
  return undefined;
}

/** The key attributes of a table made in this app, when they can be read. */
function keyAttributes(table: dynamodb.ITable): string[] | undefined {
  if (table instanceof dynamodb.Table) {
    const schema = table.schemaV2();
    return [...schema.partitionKeys, ...schema.sortKeys ?? []].map(a => a.name);
  }
  return undefined;
}
