import { Duration } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import { Construct } from 'constructs';
import { FrontDoorOrigins } from './front-door-origins';
import { ApiRoute, CachedRoute, RealtimeRoute } from './routes';

/** Default WebSocket path of a realtime route. */
export const DEFAULT_REALTIME_PATH = '/ws*';

/**
 * The single-page-app rewrite, a CloudFront Function (runtime cloudfront-js-2.0) on the site behaviour
 * only: a path whose last segment has no file extension is served the root object. Custom error
 * responses would do the same for every behaviour of the distribution, turning an API's 403 or 404
 * into `200 index.html` (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/GeneratingCustomErrorResponses.html).
 * `ROOT_OBJECT` is replaced with the site's root object.
 */
export const SPA_REWRITE_SOURCE = `function handler(event) {
  var request = event.request;
  var last = request.uri.substring(request.uri.lastIndexOf('/') + 1);
  if (last.indexOf('.') === -1) {
    request.uri = '/ROOT_OBJECT';
  }
  return request;
}`;

/** What the behaviours of one front door are built from. */
export interface FrontDoorBehavioursProps {
  readonly realtime: RealtimeRoute[];
  readonly api: ApiRoute[];
  readonly cached: CachedRoute[];
  readonly origins: FrontDoorOrigins;
  readonly responseHeadersPolicy: cloudfront.IResponseHeadersPolicy;
}

/**
 * The additional behaviours of a front door, keyed by path pattern: cached paths first (most specific),
 * then realtime, then API, because CloudFront takes the first match.
 */
export function additionalBehaviours(scope: Construct, props: FrontDoorBehavioursProps): Record<string, cloudfront.BehaviorOptions> {
  const behaviours: Record<string, cloudfront.BehaviorOptions> = {};
  for (const route of props.cached) {
    behaviours[route.pathPattern] = {
      origin: props.origins.forService(route.service, route.originDomainName),
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
      allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
      cachedMethods: cloudfront.CachedMethods.CACHE_GET_HEAD,
      cachePolicy: shortTtlPolicy(scope, route),
      responseHeadersPolicy: props.responseHeadersPolicy,
      compress: true,
    };
  }
  for (const route of props.realtime) {
    behaviours[route.pathPattern ?? DEFAULT_REALTIME_PATH] = {
      origin: props.origins.forService(route.service, route.originDomainName),
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
      allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
      cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
      // Every viewer header but Host: the Sec-WebSocket-* handshake passes, and TLS to the origin is
      // checked against the origin's name, not the viewer's.
      originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
      compress: false,
    };
  }
  for (const route of props.api) {
    behaviours[route.pathPattern] = {
      origin: route.service ? props.origins.forService(route.service, route.originDomainName) : props.origins.forHttpApi(route.httpApi!),
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
      allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
      cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
      originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
      responseHeadersPolicy: props.responseHeadersPolicy,
      compress: true,
    };
  }
  return behaviours;
}

/** The viewer-request function that serves the root object for the site's in-browser routes. */
export function spaRewriteFunction(scope: Construct, rootObject: string): cloudfront.Function {
  return new cloudfront.Function(scope, 'SpaRewrite', {
    comment: `Serves /${rootObject} for extensionless site paths`,
    runtime: cloudfront.FunctionRuntime.JS_2_0,
    code: cloudfront.FunctionCode.fromInline(SPA_REWRITE_SOURCE.replace('ROOT_OBJECT', rootObject)),
  });
}

function shortTtlPolicy(scope: Construct, route: CachedRoute): cloudfront.CachePolicy {
  const ttl = route.ttl ?? Duration.seconds(1);
  const name = route.pathPattern.replace(/[^A-Za-z0-9]+/g, ' ').trim().split(' ').map(w => w[0].toUpperCase() + w.slice(1)).join('');
  return new cloudfront.CachePolicy(scope, `Cache${name || 'Path'}`, {
    comment: `${route.pathPattern} for ${ttl.toSeconds()}s at most`,
    minTtl: Duration.seconds(0),
    defaultTtl: ttl,
    maxTtl: ttl,
    queryStringBehavior: route.queryStrings?.length
      ? cloudfront.CacheQueryStringBehavior.allowList(...route.queryStrings)
      : cloudfront.CacheQueryStringBehavior.none(),
    headerBehavior: cloudfront.CacheHeaderBehavior.none(),
    cookieBehavior: cloudfront.CacheCookieBehavior.none(),
    enableAcceptEncodingGzip: true,
    enableAcceptEncodingBrotli: true,
  });
}
