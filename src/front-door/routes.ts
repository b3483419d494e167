import { Duration } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { FrontDoorOrigin } from './front-door-origin';
import { RealtimeFargateService } from '../realtime-service/realtime-fargate-service';

export { FrontDoorOrigin } from './front-door-origin';

/**
 * Options of `FrontDoorOrigin.service()`.
 */
export interface ServiceOriginOptions {
  /**
   * A DNS name covered by the service's certificate that resolves to its load balancer. CloudFront checks
   * the origin's certificate against the name it connects to, and the load balancer's own
   * `*.elb.amazonaws.com` name is never on it, so HTTPS to a service with a certificate needs this.
   *
   * @default - the load balancer's DNS name; required when the service has a certificate
   */
  readonly originDomainName?: string;

  /**
   * The secret whose value CloudFront sends in the origin header to this internet-facing service and its
   * listener checks, for teams that own that secret themselves (its key, its stack, its replication). Give
   * the same one on every route to the service. Ignored for an internal load balancer (a VPC origin needs
   * no header).
   *
   * @default - the front door's own secret when the service is in the front door's stack, else a secret
   * created in the service's stack (child `FrontDoorOriginSecret` of the service)
   */
  readonly originSecret?: secretsmanager.ISecret;
}

/**
 * Options of `FrontDoorOrigin.loadBalancer()`.
 */
export interface LoadBalancerOriginOptions {
  /**
   * The name CloudFront connects to. For HTTPS it must be on the listener's certificate, which the load
   * balancer's own `*.elb.amazonaws.com` name never is.
   *
   * @default - the load balancer's DNS name; required with HTTPS
   */
  readonly originDomainName?: string;

  /**
   * The protocol CloudFront speaks to the load balancer. `HTTP_ONLY` sends the secret origin header in
   * clear text across the internet, so it needs `insecureHttpToOrigin` on the front door.
   *
   * @default cloudfront.OriginProtocolPolicy.HTTPS_ONLY
   */
  readonly protocolPolicy?: cloudfront.OriginProtocolPolicy;
}

/**
 * A WebSocket path to a realtime service: never cached, every viewer header (including
 * `Sec-WebSocket-Key/Version/Protocol/Extensions`) and all methods forwarded, HTTPS only.
 */
export interface RealtimeRoute {
  /**
   * The CloudFront path pattern.
   *
   * @default '/ws*'
   */
  readonly pathPattern?: string;

  /**
   * Where the path goes, e.g. `FrontDoorOrigin.service(canvas)`.
   *
   * @default - `service`; give exactly one of `origin` and `service`
   */
  readonly origin?: FrontDoorOrigin;

  /**
   * The service that answers it.
   *
   * @default - none; give exactly one of `origin` and `service`
   * @deprecated use `origin: FrontDoorOrigin.service(service, { originDomainName })`
   */
  readonly service?: RealtimeFargateService;

  /**
   * A DNS name covered by the service's certificate that resolves to its load balancer (see
   * `ServiceOriginOptions.originDomainName`). Only with `service`.
   *
   * @default - the load balancer's DNS name; required when the service has a certificate
   * @deprecated use `origin: FrontDoorOrigin.service(service, { originDomainName })`
   */
  readonly originDomainName?: string;
}

/**
 * A dynamic API path: never cached, query strings, cookies and viewer headers (except `Host`) forwarded,
 * all methods. The target is any `FrontDoorOrigin`: a realtime service, an HTTP API, a load balancer.
 */
export interface ApiRoute {
  /** The CloudFront path pattern, e.g. `/api/*` or `/search*`. */
  readonly pathPattern: string;

  /**
   * Where the path goes, e.g. `FrontDoorOrigin.service(canvas)` or `FrontDoorOrigin.httpApi(search)`.
   *
   * @default - `service` or `httpApi`; give exactly one of `origin`, `service` and `httpApi`
   */
  readonly origin?: FrontDoorOrigin;

  /**
   * A realtime service that answers it.
   *
   * @default - none; give exactly one of `origin`, `service` and `httpApi`
   * @deprecated use `origin: FrontDoorOrigin.service(service, { originDomainName })`
   */
  readonly service?: RealtimeFargateService;

  /**
   * An HTTP API that answers it (on its `$default` stage). The front door sends its secret origin header
   * with every request, and every route of the API must use `CdnFrontDoor.originCheckAuthorizer()`,
   * which refuses requests without it; synthesis fails while a route does not.
   *
   * @default - none; give exactly one of `origin`, `service` and `httpApi`
   * @deprecated use `origin: FrontDoorOrigin.httpApi(httpApi)`
   */
  readonly httpApi?: apigwv2.IHttpApi;

  /**
   * See `ServiceOriginOptions.originDomainName`. Only with `service`.
   *
   * @default - the load balancer's DNS name; required when the service has a certificate
   * @deprecated use `origin: FrontDoorOrigin.service(service, { originDomainName })`
   */
  readonly originDomainName?: string;
}

/**
 * A GET path cached for a short time at the edge, e.g. a board snapshot: every edge asks the origin at
 * most once per `ttl`, so the origin sees about one read per second per edge however many viewers ask.
 * The cache key holds only what must vary: the listed query strings and the normalized `Accept-Encoding`.
 * A `stale-while-revalidate` directive in the origin's `Cache-Control` lets an edge answer from its copy
 * while it refreshes.
 */
export interface CachedRoute {
  /** The CloudFront path pattern, e.g. `/api/board`. */
  readonly pathPattern: string;

  /**
   * Where the path goes, e.g. `FrontDoorOrigin.service(canvas)`.
   *
   * @default - `service`; give exactly one of `origin` and `service`
   */
  readonly origin?: FrontDoorOrigin;

  /**
   * The service that answers it.
   *
   * @default - none; give exactly one of `origin` and `service`
   * @deprecated use `origin: FrontDoorOrigin.service(service, { originDomainName })`
   */
  readonly service?: RealtimeFargateService;

  /**
   * How long an edge keeps a response when the origin sends no `Cache-Control` max-age, and the most it
   * keeps one whatever the origin says (1 s to 1 day).
   *
   * @default Duration.seconds(1)
   */
  readonly ttl?: Duration;

  /**
   * Query strings that select different responses (part of the cache key and forwarded).
   *
   * @default - none: query strings are neither forwarded nor part of the key
   */
  readonly queryStrings?: string[];

  /**
   * See `ServiceOriginOptions.originDomainName`. Only with `service`.
   *
   * @default - the load balancer's DNS name; required when the service has a certificate
   * @deprecated use `origin: FrontDoorOrigin.service(service, { originDomainName })`
   */
  readonly originDomainName?: string;
}
