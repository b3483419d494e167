import { Duration } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import { Construct } from 'constructs';
import { CachedRoute } from './routes';

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

/**
 * A realtime (WebSocket) behaviour: caching off, every viewer header but Host (so the `Sec-WebSocket-*`
 * handshake passes, and TLS to the origin is checked against the origin's name, not the viewer's), all
 * methods, HTTPS only.
 */
export function realtimeBehaviour(origin: cloudfront.IOrigin): cloudfront.BehaviorOptions {
  return {
    origin,
    viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
    allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
    cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
    originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
    compress: false,
  };
}

/** An API behaviour: never cached, everything but Host forwarded, all methods. */
export function apiBehaviour(origin: cloudfront.IOrigin, responseHeadersPolicy: cloudfront.IResponseHeadersPolicy): cloudfront.BehaviorOptions {
  return {
    origin,
    viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
    allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
    cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
    originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
    responseHeadersPolicy,
    compress: true,
  };
}

/** A cached GET behaviour with a short TTL. */
export function cachedBehaviour(scope: Construct, route: CachedRoute, origin: cloudfront.IOrigin,
  responseHeadersPolicy: cloudfront.IResponseHeadersPolicy): cloudfront.BehaviorOptions {
  return {
    origin,
    viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
    allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
    cachedMethods: cloudfront.CachedMethods.CACHE_GET_HEAD,
    cachePolicy: shortTtlPolicy(scope, route),
    responseHeadersPolicy,
    compress: true,
  };
}

/**
 * The default behaviour's function of a front door without a site, a CloudFront Function (runtime
 * cloudfront-js-2.0) that answers 404 at the edge, without a body, so only the routed paths ever reach an
 * origin (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/function-code-choose-purpose.html:
 * a viewer-request function may generate the response itself).
 */
export const NOT_FOUND_SOURCE = `function handler(event) {
  return { statusCode: 404, statusDescription: 'Not Found' };
}`;

/** The viewer-request function of the default behaviour when there is no site. */
export function notFoundFunction(scope: Construct): cloudfront.Function {
  return new cloudfront.Function(scope, 'NotFound', {
    comment: 'Answers 404 for every path that no route matches',
    runtime: cloudfront.FunctionRuntime.JS_2_0,
    code: cloudfront.FunctionCode.fromInline(NOT_FOUND_SOURCE),
  });
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
