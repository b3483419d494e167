import { Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as targets from 'aws-cdk-lib/aws-route53-targets';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { apiBehaviour, cachedBehaviour, DEFAULT_REALTIME_PATH, notFoundFunction, realtimeBehaviour, spaRewriteFunction } from './front-door-behaviours';
import { FrontDoorOrigin } from './front-door-origin';
import { createOriginHeaderSecret, FrontDoorOrigins } from './front-door-origins';
import { FrontDoorSite } from './front-door-site';
import { OriginCheckAuthorizer } from './origin-check';
import { ApiRoute, CachedRoute, RealtimeRoute } from './routes';
import { acknowledgeControl, acknowledgeNag, acknowledgeWildcards } from '../private/nag';
import { acknowledgeAccessLogsBucketControls, enableEventBridgeNotifications } from '../private/s3-buckets';
import { checkSeconds, invalidProp } from '../private/validation';
import { RealtimeFargateService } from '../realtime-service/realtime-fargate-service';

/**
 * A custom domain for a front door.
 */
export interface FrontDoorDomain {
  /** The names viewers use, e.g. `['canvas.example.com']`. */
  readonly domainNames: string[];

  /** A certificate in us-east-1 that covers every name (CloudFront reads certificates only there). */
  readonly certificate: acm.ICertificate;

  /**
   * A hosted zone to create A and AAAA alias records in, for each name inside it.
   *
   * @default - no records; point the names at `distribution.distributionDomainName` yourself
   */
  readonly hostedZone?: route53.IHostedZone;
}

/**
 * Props of a `CdnFrontDoor`.
 */
export interface CdnFrontDoorProps {
  /**
   * The static site on the default behaviour, from a private bucket.
   *
   * @default - no site: the default behaviour answers 404 at the edge with a CloudFront Function, so only
   * the routed paths reach an origin (a WebSocket-only or API-only front door); then give at least one
   * route here, since a distribution needs an origin when it is created
   */
  readonly site?: FrontDoorSite;

  /**
   * WebSocket paths to realtime services.
   *
   * @default - none
   */
  readonly realtime?: RealtimeRoute[];

  /**
   * Dynamic API paths, never cached, to a realtime service or an HTTP API.
   *
   * @default - none
   */
  readonly api?: ApiRoute[];

  /**
   * GET paths cached for a short time at the edge. They are matched before `api` paths, so
   * `/api/board` can be cached while `/api/*` is not.
   *
   * @default - none
   */
  readonly cached?: CachedRoute[];

  /**
   * A custom domain, served with TLS 1.2 (TLSv1.2_2021) or newer. Without one viewers reach the
   * distribution at its `*.cloudfront.net` name, whose certificate CloudFront also offers to older clients.
   *
   * @default - the distribution's own domain name
   */
  readonly domain?: FrontDoorDomain;

  /**
   * The `Content-Security-Policy` header on every response.
   *
   * @default "default-src 'self'; connect-src 'self'; img-src 'self' data: blob:; style-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
   */
  readonly contentSecurityPolicy?: string;

  /**
   * The edge locations used.
   *
   * @default PriceClass.PRICE_CLASS_100 (North America and Europe)
   */
  readonly priceClass?: cloudfront.PriceClass;

  /**
   * A WAF web ACL (scope CLOUDFRONT, in us-east-1) by ARN, e.g. `FrontDoorWebAcl.webAclArn`.
   *
   * @default - no web ACL
   */
  readonly webAclArn?: string;

  /**
   * Countries to allow or deny.
   *
   * @default - every country
   */
  readonly geoRestriction?: cloudfront.GeoRestriction;

  /**
   * Bucket for the distribution's standard access logs (it must allow ACLs: object ownership
   * `BUCKET_OWNER_PREFERRED` or `OBJECT_WRITER`).
   *
   * @default - a new bucket, SSE-S3 encrypted, TLS-only, public access blocked, versioned, logs expired
   * after 90 days (replaced versions after 1 day), object events sent to EventBridge
   */
  readonly accessLogsBucket?: s3.IBucket;

  /**
   * What `cdk destroy` (or removing the front door from the app) does with the site bucket it creates.
   * `RemovalPolicy.DESTROY` also empties it first, every version of every object (aws-cdk-lib's
   * `autoDeleteObjects`, a custom resource in the stack), since CloudFormation deletes only empty buckets;
   * the site is rebuilt from its folder on the next deploy.
   *
   * @default RemovalPolicy.RETAIN - the bucket and the site's files stay in the account after `cdk destroy`
   */
  readonly siteBucketRemovalPolicy?: RemovalPolicy;

  /**
   * What `cdk destroy` (or removing the front door from the app) does with the access-log bucket it
   * creates (not with a given `accessLogsBucket`). `RemovalPolicy.DESTROY` empties it first, every
   * version of every log file (aws-cdk-lib's `autoDeleteObjects`), so the logs are lost with the stack.
   *
   * @default RemovalPolicy.RETAIN - the bucket and its logs stay after `cdk destroy`, as an audit trail
   * (its lifecycle rule still expires the logs after 90 days)
   */
  readonly accessLogsRemovalPolicy?: RemovalPolicy;

  /**
   * How long the log groups the front door creates keep their events: those of the origin-check function
   * that guards HTTP APIs. A year by default: the logs of a public-facing system are its audit trail, and
   * an incident is often found months after it began; CloudWatch Logs storage costs little next to
   * ingestion, which retention does not change.
   *
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * A KMS key that encrypts the log groups the front door creates (the origin-check function's).
   * CloudWatch Logs must be allowed to use it: for a key created in this app the front door adds the
   * statement AWS documents to its key policy (the `logs.<region>.amazonaws.com` principal, for log groups
   * of this account and region); an imported key's policy must already allow it
   * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html).
   *
   * @default - CloudWatch Logs' own encryption (AWS-owned key)
   */
  readonly logEncryptionKey?: kms.IKey;

  /**
   * What `cdk destroy` does with the log groups the front door creates (the origin-check function's).
   *
   * @default RemovalPolicy.DESTROY - they are deleted with the stack; they hold only the function's own
   * start-up and error lines, not the requests (API Gateway's access log keeps those)
   */
  readonly logRemovalPolicy?: RemovalPolicy;

  /**
   * The ID of the managed prefix list `com.amazonaws.global.cloudfront.origin-facing` in the services'
   * region, for regions this library does not know.
   *
   * @default - looked up in the library's table by each service's stack region, without AWS calls
   */
  readonly cloudFrontPrefixListId?: string;

  /**
   * Let CloudFront reach an internet-facing service that has no certificate over plain HTTP. Its secret
   * origin header then crosses the internet in clear text, where anyone on the path can read it and reach
   * the service around the distribution. For development stacks only; otherwise give the service a
   * certificate or an internal load balancer (reached through a CloudFront VPC origin).
   *
   * @default false - synthesis fails for such a route
   */
  readonly insecureHttpToOrigin?: boolean;
}

type RouteKind = 'realtime' | 'api' | 'cached';

/** The targets a route of any kind may give. */
interface RouteTargets {
  readonly origin?: FrontDoorOrigin;
  readonly service?: RealtimeFargateService;
  readonly httpApi?: apigwv2.IHttpApi;
  readonly originDomainName?: string;
}

/** A route as the front door keeps it: its kind, pattern and one origin. */
interface RouteEntry {
  readonly kind: RouteKind;
  readonly pathPattern: string;
  readonly origin: FrontDoorOrigin;
  readonly cached?: CachedRoute;
}

/** Header CloudFront adds to every request to an internet-facing origin; its value is a secret. */
const ORIGIN_HEADER = 'X-Origin-Verify';
const DEFAULT_CSP = "default-src 'self'; connect-src 'self'; img-src 'self' data: blob:; style-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'";

/**
 * One CloudFront distribution in front of a realtime system, with every origin closed to everything but
 * the distribution.
 *
 * - Default behaviour: the `site`, from a private, encrypted, TLS-only bucket through Origin Access
 *   Control, deployed from a local folder; security headers on every response; HTTP/2 and HTTP/3; access
 *   logs to an encrypted bucket.
 * - `realtime` paths (default `/ws*`): caching off, every viewer header except `Host` (so the
 *   `Sec-WebSocket-*` handshake passes), all methods, HTTPS only.
 * - `api` paths: never cached, to a service or an HTTP API; `cached` GET paths: a short TTL keyed only on
 *   the listed query strings and the normalized `Accept-Encoding`.
 *
 * Origin protection. An internal load balancer (`publicLoadBalancer: false`) is reached through a
 * CloudFront VPC origin: it has no public address, and its security group admits only CloudFront's
 * origin-facing prefix list. CloudFront VPC origins did not carry WebSocket upgrades when they launched
 * (November 2024; the developer guide listed WebSockets among unsupported features) and have since May
 * 2026 ("Amazon CloudFront adds WebSocket support for VPC origins"). An internet-facing load balancer
 * admits only that prefix list on its security group and forwards only requests that carry
 * `X-Origin-Verify` with a secret from Secrets Manager; everything else gets 403. The protocol to a
 * service's load balancer is HTTPS when the service has a certificate (then give `originDomainName`), else
 * HTTP. HTTP APIs receive the same header and must authorize every route with `originCheckAuthorizer()`,
 * which refuses requests without it (synthesis fails otherwise).
 *
 * Stacks. The front door may live in a stack of its own, e.g. one that also holds a us-east-1
 * certificate, and its services in others: references then flow one way, from the front door's stack to
 * the services'. An internet-facing service in another stack gets its header secret there (child
 * `FrontDoorOriginSecret` of the service), checked by its listener rule in its own stack and imported by
 * the distribution; the HTTP APIs and their origin check stay in the front door's stack. An internet-facing
 * service in another region than the front door is refused at synth, because the distribution's header
 * would have to resolve a secret of another region; an internal one (VPC origin) works across regions.
 *
 * Routes. Each route's `origin` is a `FrontDoorOrigin` (a service, an HTTP API, a load balancer you manage,
 * or any CloudFront origin); routes can also be added later with `addRealtimeRoute`, `addApiRoute` and
 * `addCachedRoute`. Without a `site` the default behaviour answers 404 at the edge.
 *
 * @example
 * declare const canvas: RealtimeFargateService;
 * const canvasOrigin = FrontDoorOrigin.service(canvas);
 * new CdnFrontDoor(this, 'FrontDoor', {
 *   site: FrontDoorSite.fromDirectory('web'),
 *   realtime: [{ origin: canvasOrigin }],
 *   cached: [{ pathPattern: '/api/board', origin: canvasOrigin, ttl: Duration.seconds(1) }],
 *   api: [{ pathPattern: '/api/*', origin: canvasOrigin }],
 * });
 */
export class CdnFrontDoor extends Construct {
  /** The distribution. */
  public readonly distribution: cloudfront.Distribution;
  /** The private bucket the site is served from; undefined without a `site`. */
  public readonly siteBucket?: s3.Bucket;
  /** The deployment of the site's files; undefined without a `site`. */
  public readonly siteDeployment?: s3deploy.BucketDeployment;
  /** The bucket of the distribution's access logs. */
  public readonly accessLogsBucket: s3.IBucket;
  /** The security-headers response policy on every behaviour. */
  public readonly responseHeadersPolicy: cloudfront.ResponseHeadersPolicy;
  /** The name of the header that proves a request came through this distribution. */
  public readonly originHeaderName: string;
  /**
   * The secret value of `originHeaderName` that the front door sends to its HTTP APIs and to the
   * internet-facing services of its own stack; created when there is one. An internet-facing service in
   * another stack gets a secret of its own, created in that service's stack (child `FrontDoorOriginSecret`
   * of the service), so that only the front door's stack refers to the service's.
   */
  public get originSecret(): secretsmanager.ISecret | undefined {
    return this._originSecret;
  }

  /** The viewer-facing URL: `https://` plus the first custom domain name, or the distribution's name. */
  public readonly url: string;

  private readonly origins: FrontDoorOrigins;
  private readonly routes: RouteEntry[] = [];
  private readonly httpToInternet: RealtimeFargateService[] = [];
  private _originSecret?: secretsmanager.Secret;
  private readonly logRetention?: logs.RetentionDays;
  private readonly logEncryptionKey?: kms.IKey;
  private readonly logRemovalPolicy?: RemovalPolicy;
  private originCheck?: OriginCheckAuthorizer;

  constructor(scope: Construct, id: string, props: CdnFrontDoorProps) {
    super(scope, id);
    this.validateDomain(props.domain);
    this.logRetention = props.logRetention;
    this.logEncryptionKey = props.logEncryptionKey;
    this.logRemovalPolicy = props.logRemovalPolicy;
    this.originHeaderName = ORIGIN_HEADER;
    // CloudFront takes the first matching behaviour: cached paths first (most specific), then realtime, then API.
    const initial: RouteEntry[] = [
      ...(props.cached ?? []).map((r, i) => this.entry('cached', i, r.pathPattern, r, r)),
      ...(props.realtime ?? []).map((r, i) => this.entry('realtime', i, r.pathPattern ?? DEFAULT_REALTIME_PATH, r)),
      ...(props.api ?? []).map((r, i) => this.entry('api', i, r.pathPattern, r)),
    ];
    const checked: RouteEntry[] = [];
    for (const route of initial) {
      this.checkRoute(route, checked);
      checked.push(route);
    }
    if (!props.site && initial.length === 0) {
      invalidProp(this, 'site', undefined, 'is not given and no route is, so the distribution would have no origin',
        'give a site, or at least one of realtime, api and cached (more can be added with addRealtimeRoute, addApiRoute and addCachedRoute)');
    }
    this.origins = new FrontDoorOrigins({
      frontDoor: this,
      headerName: ORIGIN_HEADER,
      secret: () => this.frontDoorSecret(),
      insecureHttpToOrigin: props.insecureHttpToOrigin ?? false,
      cloudFrontPrefixListId: props.cloudFrontPrefixListId,
      onHttpToInternet: service => this.httpToInternet.push(service),
    });

    this.accessLogsBucket = props.accessLogsBucket ?? this.createAccessLogsBucket(props.accessLogsRemovalPolicy ?? RemovalPolicy.RETAIN);
    if (props.site) {
      this.siteBucket = this.createSiteBucket(props.siteBucketRemovalPolicy ?? RemovalPolicy.RETAIN);
    }
    this.responseHeadersPolicy = this.createResponseHeadersPolicy(props.contentSecurityPolicy ?? DEFAULT_CSP);
    this.distribution = this.createDistribution(props, initial[0]);
    for (const route of initial) {
      this.addBehaviour(route);
    }
    if (props.site) {
      this.siteDeployment = this.deploySite(props.site);
    }
    if (props.domain?.hostedZone) {
      this.createRecords(props.domain);
    }
    this.url = `https://${props.domain?.domainNames[0] ?? this.distribution.distributionDomainName}`;
    this.acknowledgeFindings(props);
    this.node.addValidation({ validate: () => this.unprotectedApiRoutes() });
  }

  /**
   * Adds a WebSocket path (default `/ws*`): never cached, every viewer header but `Host`, all methods,
   * HTTPS only. It is checked against the routes so far like a route of `realtime`.
   */
  public addRealtimeRoute(route: RealtimeRoute): void {
    this.addRoute(this.entry('realtime', this.count('realtime'), route.pathPattern ?? DEFAULT_REALTIME_PATH, route));
  }

  /**
   * Adds a dynamic API path: never cached, everything but `Host` forwarded, all methods. It is checked
   * against the routes so far like a route of `api`.
   */
  public addApiRoute(route: ApiRoute): void {
    this.addRoute(this.entry('api', this.count('api'), route.pathPattern, route));
  }

  /**
   * Adds a GET path cached for a short time. CloudFront takes the first matching path in the order the
   * routes were added, so a cached path that an API path added before it would match is refused (give it
   * in `cached`, which comes first, or add it first).
   */
  public addCachedRoute(route: CachedRoute): void {
    this.addRoute(this.entry('cached', this.count('cached'), route.pathPattern, route, route));
  }

  /**
   * An authorizer that admits only requests carrying this distribution's secret origin header. Give it
   * to every route of each HTTP API behind the front door (`authorizer` of `addRoutes`, or the API's
   * `defaultAuthorizer`); synthesis fails while a route of such an API lacks it, because that route
   * would answer on the API's own endpoint, around CloudFront. Call it as often as you like: each API
   * gets one authorizer, shared by its routes.
   */
  public originCheckAuthorizer(): apigwv2.IHttpRouteAuthorizer {
    this.originCheck ??= new OriginCheckAuthorizer(this, 'OriginCheck', {
      headerName: this.originHeaderName,
      secret: this.frontDoorSecret(),
      logRetention: this.logRetention,
      logEncryptionKey: this.logEncryptionKey,
      logRemovalPolicy: this.logRemovalPolicy,
    });
    return this.originCheck.authorizer;
  }

  private entry(kind: RouteKind, index: number, pathPattern: string, route: RouteTargets, cached?: CachedRoute): RouteEntry {
    const given = [route.origin, route.service, route.httpApi].filter(t => t !== undefined);
    if (given.length !== 1) {
      const names = kind === 'api' ? 'origin, service and httpApi' : 'origin and service';
      invalidProp(this, `${kind}[${index}]`, pathPattern, `needs exactly one of ${names}`, 'give origin, e.g. FrontDoorOrigin.service(service)');
    }
    const deprecated = () => (route.service
      ? FrontDoorOrigin.service(route.service, { originDomainName: route.originDomainName })
      : FrontDoorOrigin.httpApi(route.httpApi!));
    const origin = route.origin ?? deprecated();
    if (cached) {
      checkSeconds(this, `ttl of cached path ${pathPattern}`, cached.ttl ?? Duration.seconds(1), 1, 86_400, 'the cached-path TTL');
    }
    return { kind, pathPattern, origin, cached };
  }

  private count(kind: RouteKind): number {
    return this.routes.filter(r => r.kind === kind).length;
  }

  private addRoute(route: RouteEntry): void {
    this.checkRoute(route, this.routes);
    this.addBehaviour(route);
  }

  /** Checks a new route against those before it, in CloudFront's order of evaluation. */
  private checkRoute(route: RouteEntry, before: RouteEntry[]): void {
    const pattern = route.pathPattern;
    if (!/^\/?[A-Za-z0-9_\-.*$/~"'@:+?&=%]*$/.test(pattern) || pattern === '' || pattern === '/' || pattern === '*' || pattern === '/*') {
      invalidProp(this, 'pathPattern', pattern, 'is not a path pattern of its own (the default behaviour serves the site)',
        'use a pattern such as /ws* or /api/*');
    }
    if (before.some(r => r.pathPattern === pattern)) {
      invalidProp(this, 'pathPattern', pattern, 'is routed twice', 'give each path pattern one route');
    }
    for (const other of before.filter(r => patternsOverlap(r.pathPattern, pattern))) {
      const [realtime, rest] = route.kind === 'realtime' ? [route, other] : other.kind === 'realtime' ? [other, route] : [undefined, undefined];
      if (realtime && rest && rest.kind === 'api') {
        invalidProp(this, 'api pathPattern', rest.pathPattern, `overlaps the realtime path '${realtime.pathPattern}', so some WebSocket paths would reach the API behaviour`,
          'use disjoint patterns, e.g. /ws* and /api/*');
      }
      if (realtime && rest && rest.kind === 'cached') {
        invalidProp(this, 'cached pathPattern', rest.pathPattern, `puts a TTL on the realtime path '${realtime.pathPattern}'; realtime paths are never cached`,
          'move the cached path out of the realtime pattern');
      }
      if (route.kind === 'cached' && other.kind === 'api') {
        invalidProp(this, 'cached pathPattern', pattern, `comes after the api path '${other.pathPattern}', which CloudFront matches first, so it would never be cached`,
          'give it in cached (those come first) or call addCachedRoute before adding the api path');
      }
    }
  }

  private addBehaviour(route: RouteEntry): void {
    const origin = this.origins.resolve(route.origin);
    const options = route.kind === 'realtime' ? realtimeBehaviour(origin)
      : route.kind === 'api' ? apiBehaviour(origin, this.responseHeadersPolicy)
        : cachedBehaviour(this, route.cached!, origin, this.responseHeadersPolicy);
    const { origin: _, ...rest } = options;
    this.distribution.addBehavior(route.pathPattern, origin, rest);
    this.routes.push(route);
    this.acknowledgeHttpToInternet();
  }

  private validateDomain(domain: FrontDoorDomain | undefined): void {
    if (!domain) {
      return;
    }
    if (domain.domainNames.length === 0) {
      invalidProp(this, 'domain.domainNames', '[]', 'is empty', 'list at least one name, or leave domain unset');
    }
    const region = certificateRegion(domain.certificate);
    if (region !== undefined && region !== 'us-east-1') {
      invalidProp(this, 'domain.certificate', domain.certificate.certificateArn, `is in ${region}, but CloudFront uses certificates from us-east-1 only`,
        'request or import the certificate in us-east-1 (e.g. a us-east-1 stack with crossRegionReferences)');
    }
  }

  /** The front door's own header secret, created on first use (for HTTP APIs, load balancers and same-stack services). */
  private frontDoorSecret(): secretsmanager.ISecret {
    this._originSecret ??= createOriginHeaderSecret(this, 'OriginSecret',
      `Value of the ${ORIGIN_HEADER} header that ${this.node.path} sends to its origins`);
    return this._originSecret;
  }

  private createSiteBucket(removalPolicy: RemovalPolicy): s3.Bucket {
    const bucket = new s3.Bucket(this, 'SiteBucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      lifecycleRules: [{ noncurrentVersionExpiration: Duration.days(30) }],
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'site-bucket/',
      removalPolicy,
      autoDeleteObjects: removalPolicy === RemovalPolicy.DESTROY,
    });
    enableEventBridgeNotifications(bucket);
    acknowledgeControl(bucket, 's3_bucket_default_encryption_kms_check',
      'The bucket holds only the public static site that the distribution serves to anyone; SSE-S3 encrypts it at rest, and a customer-managed key would add KMS requests to cache misses without protecting anything not already public.');
    acknowledgeControl(bucket, 's3_bucket_object_lock_enabled_check',
      'Every deploy replaces and prunes the built site; Object Lock would keep every old build and stop the prune, and the repository is the source of truth.');
    return bucket;
  }

  private createAccessLogsBucket(removalPolicy: RemovalPolicy): s3.Bucket {
    const bucket = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      // CloudFront standard logging writes with ACLs.
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      versioned: true,
      lifecycleRules: [{ expiration: Duration.days(90), noncurrentVersionExpiration: Duration.days(1) }],
      removalPolicy,
      autoDeleteObjects: removalPolicy === RemovalPolicy.DESTROY,
    });
    enableEventBridgeNotifications(bucket);
    acknowledgeNag(bucket, 'S1',
      'This bucket is the destination of the distribution\'s access logs; logging its own access would log into itself.');
    acknowledgeAccessLogsBucketControls(bucket);
    acknowledgeControl(bucket, 's3_bucket_acl_prohibited_check',
      'CloudFront standard logging writes log files through the bucket ACL, so ACLs must stay enabled for it; public ACLs are blocked.');
    acknowledgeControl(bucket, 's3_bucket_default_encryption_kms_check',
      'SSE-S3 encrypts these access logs at rest; SSE-KMS would need a customer-managed key whose policy lets CloudFront\'s log delivery use it, which the front door does not create, so give accessLogsBucket to use such a key.');
    return bucket;
  }

  private createResponseHeadersPolicy(contentSecurityPolicy: string): cloudfront.ResponseHeadersPolicy {
    return new cloudfront.ResponseHeadersPolicy(this, 'SecurityHeaders', {
      comment: `Security headers of ${this.node.path}`,
      securityHeadersBehavior: {
        strictTransportSecurity: { accessControlMaxAge: Duration.days(730), includeSubdomains: true, preload: false, override: true },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: cloudfront.HeadersFrameOption.DENY, override: true },
        referrerPolicy: { referrerPolicy: cloudfront.HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN, override: true },
        contentSecurityPolicy: { contentSecurityPolicy, override: true },
      },
    });
  }

  private createDistribution(props: CdnFrontDoorProps, firstRoute: RouteEntry | undefined): cloudfront.Distribution {
    const site = props.site;
    const defaultBehavior: cloudfront.BehaviorOptions = site ? {
      origin: origins.S3BucketOrigin.withOriginAccessControl(this.siteBucket!),
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
      cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
      responseHeadersPolicy: this.responseHeadersPolicy,
      compress: true,
      functionAssociations: site.singlePageApp
        ? [{ eventType: cloudfront.FunctionEventType.VIEWER_REQUEST, function: spaRewriteFunction(this, site.defaultRootObject) }]
        : undefined,
    } : {
      // No site: every unrouted path is answered 404 at the edge; the origin is never asked.
      origin: this.origins.resolve(firstRoute!.origin),
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
      cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
      responseHeadersPolicy: this.responseHeadersPolicy,
      functionAssociations: [{ eventType: cloudfront.FunctionEventType.VIEWER_REQUEST, function: notFoundFunction(this) }],
    };
    return new cloudfront.Distribution(this, 'Distribution', {
      comment: this.node.path.slice(0, 128),
      defaultBehavior,
      defaultRootObject: site?.defaultRootObject,
      domainNames: props.domain?.domainNames,
      certificate: props.domain?.certificate,
      minimumProtocolVersion: cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
      sslSupportMethod: cloudfront.SSLMethod.SNI,
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      enableIpv6: true,
      priceClass: props.priceClass ?? cloudfront.PriceClass.PRICE_CLASS_100,
      enableLogging: true,
      logBucket: this.accessLogsBucket,
      logFilePrefix: 'cloudfront/',
      webAclId: props.webAclArn,
      geoRestriction: props.geoRestriction,
    });
  }

  private deploySite(site: FrontDoorSite): s3deploy.BucketDeployment {
    return new s3deploy.BucketDeployment(this, 'SiteDeployment', {
      sources: site.sources,
      destinationBucket: this.siteBucket!,
      distribution: this.distribution,
      distributionPaths: ['/*'],
      prune: true,
      memoryLimit: 256,
    });
  }

  /** Routes of the routed HTTP APIs that answer without the origin check. */
  private unprotectedApiRoutes(): string[] {
    const apis = [...new Set(this.origins.httpApis)];
    const errors: string[] = [];
    for (const api of apis) {
      const ours = this.originCheckAuthorizerIds(api);
      for (const route of api.node.findAll().filter((c): c is apigwv2.CfnRoute => c instanceof apigwv2.CfnRoute)) {
        if (route.authorizationType !== 'CUSTOM' || !ours.includes(JSON.stringify(Stack.of(route).resolve(route.authorizerId)))) {
          errors.push(`${this.node.path}: route '${route.routeKey}' of ${api.node.path} answers on the API's own endpoint, around the distribution; `
            + `give it authorizer: ${this.node.id}.originCheckAuthorizer() (or make that the API's defaultAuthorizer)`);
        }
      }
    }
    return errors;
  }

  /** The resolved refs of `api`'s authorizers that invoke this front door's origin-check function. */
  private originCheckAuthorizerIds(api: apigwv2.IHttpApi): string[] {
    if (!this.originCheck) {
      return [];
    }
    const functionId = Stack.of(this).getLogicalId(this.originCheck.function.node.defaultChild as lambda.CfnFunction);
    return api.node.findAll()
      .filter((c): c is apigwv2.CfnAuthorizer => c instanceof apigwv2.CfnAuthorizer)
      .filter(a => JSON.stringify(Stack.of(a).resolve(a.authorizerUri)).includes(`"${functionId}"`))
      .map(a => JSON.stringify(Stack.of(a).resolve(a.ref)));
  }

  private createRecords(domain: FrontDoorDomain): void {
    const zone = domain.hostedZone!;
    const target = route53.RecordTarget.fromAlias(new targets.CloudFrontTarget(this.distribution));
    domain.domainNames.forEach((name, i) => {
      new route53.ARecord(this, `AliasA${i}`, { zone, recordName: name, target });
      new route53.AaaaRecord(this, `AliasAaaa${i}`, { zone, recordName: name, target });
    });
  }

  private acknowledgeFindings(props: CdnFrontDoorProps): void {
    if (!props.domain) {
      acknowledgeNag(this.distribution, 'CFR4',
        'Without a custom domain CloudFront serves its *.cloudfront.net certificate, which also accepts TLS 1.0 clients and cannot be changed; give domain to serve TLSv1.2_2021 or newer.');
      const reason = 'Without a custom domain the distribution serves on its *.cloudfront.net name with CloudFront\'s default certificate, whose SSL support method and minimum protocol cannot be set; give domain to use an ACM certificate with SNI and TLSv1.2_2021.';
      for (const rule of ['cloudfront_custom_ssl_certificate_check', 'cloudfront_sni_enabled_check', 'cloudfront_security_policy_check']) {
        acknowledgeControl(this.distribution, rule, reason);
      }
    }
    acknowledgeControl(this.distribution, 'cloudfront_origin_failover_enabled_check',
      'Each path has a single origin in one region; a second origin-group member would need a second deployment of the whole system, which this construct does not create.');
    if (!props.geoRestriction) {
      acknowledgeNag(this.distribution, 'CFR1',
        'A public realtime system serves viewers in every country by design; set geoRestriction where the audience is limited.');
    }
    if (!props.webAclArn) {
      acknowledgeNag(this.distribution, 'CFR2',
        'No web ACL was given; the origins still accept only this distribution, and FrontDoorWebAcl adds AWS managed rules and a rate limit when wanted.');
    }
    if (this.siteDeployment) {
      this.acknowledgeSiteDeployment();
    } else {
      acknowledgeControl(this.distribution, 'cloudfront_default_root_object_configured_check',
        'This front door has no site: its default behaviour answers every unrouted path, the root included, with 404 from a CloudFront Function, so there is no root object to serve or to expose.');
    }
    const destroyLogs = !props.accessLogsBucket && props.accessLogsRemovalPolicy === RemovalPolicy.DESTROY;
    if (props.siteBucketRemovalPolicy === RemovalPolicy.DESTROY || destroyLogs) {
      this.acknowledgeAutoDeleteObjects();
    }
  }

  /** The handler that empties a DESTROY bucket is aws-cdk-lib's stack-wide singleton (`autoDeleteObjects`). */
  private acknowledgeAutoDeleteObjects(): void {
    const handler = Stack.of(this).node.tryFindChild('Custom::S3AutoDeleteObjectsCustomResourceProvider')?.node.tryFindChild('Handler');
    if (handler) {
      acknowledgeControl(handler, 'lambda_inside_vpc_check',
        'This is aws-cdk-lib\'s autoDeleteObjects handler, which empties a bucket whose removal policy is DESTROY before CloudFormation deletes it; it calls only the S3 API, never anything inside a VPC.');
    }
  }

  /** CloudFront reaches these services over HTTP (insecureHttpToOrigin); acknowledged again as the list grows. */
  private acknowledgeHttpToInternet(): void {
    if (this.httpToInternet.length === 0) {
      return;
    }
    const httpServices = this.httpToInternet;
    acknowledgeNag(this.distribution, 'CFR5',
      `The services ${httpServices.map(s => s.node.path).join(', ')} have no certificate and insecureHttpToOrigin was set for development, so CloudFront reaches their load balancers over HTTP; the listeners still admit only CloudFront's origin-facing addresses carrying the secret origin header.`);
  }

  /** The BucketDeployment's singleton handler, shared by the stack, is aws-cdk-lib's own function and role. */
  private acknowledgeSiteDeployment(): void {
    const role = this.siteDeployment!.handlerRole;
    acknowledgeNag(role, 'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      'The site deployment handler uses AWSLambdaBasicExecutionRole only to write its own logs.');
    const handler = role.node.scope;
    if (handler) {
      acknowledgeNag(handler, 'L1',
        'The site deployment handler is aws-cdk-lib\'s BucketDeployment function, whose runtime aws-cdk-lib chooses and updates with each release.');
      acknowledgeControl(handler, 'lambda_inside_vpc_check',
        'The site deployment handler is aws-cdk-lib\'s BucketDeployment function; it calls only AWS APIs (S3 to copy the site, CloudFront to invalidate it), never anything inside a VPC.');
    }
    const policy = role.node.tryFindChild('DefaultPolicy')?.node.defaultChild;
    if (policy instanceof iam.CfnPolicy) {
      acknowledgeWildcards(policy,
        'The site deployment handler reads every object of the site asset, replaces every key of the site bucket and invalidates the distribution (CloudFront invalidations have no resource-level permissions); the wildcards cover only those.');
    }
  }
}

/** Whether some path could match both CloudFront patterns: true when one's literal prefix starts the other's. */
function patternsOverlap(a: string, b: string): boolean {
  const prefix = (p: string) => (p.startsWith('/') ? p : `/${p}`).split(/[*?]/)[0];
  const [pa, pb] = [prefix(a), prefix(b)];
  const exactA = !/[*?]/.test(a);
  const exactB = !/[*?]/.test(b);
  if (exactA && exactB) {
    return pa === pb;
  }
  if (exactA) {
    return pa.startsWith(pb);
  }
  if (exactB) {
    return pb.startsWith(pa);
  }
  return pa.startsWith(pb) || pb.startsWith(pa);
}

/** The region of a certificate whose ARN is known at synth, or of the stack that creates it. */
function certificateRegion(certificate: acm.ICertificate): string | undefined {
  const arn = certificate.certificateArn;
  if (!Token.isUnresolved(arn)) {
    return arn.split(':')[3] || undefined;
  }
  const region = Stack.of(certificate).region;
  return Token.isUnresolved(region) ? undefined : region;
}
