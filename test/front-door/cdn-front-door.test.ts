import * as crypto from 'crypto';
import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as integrations from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { nagFindings } from '../../examples/shared/nag';
import { CdnFrontDoor, CdnFrontDoorProps, FrontDoorOrigin, FrontDoorSite, RealtimeFargateService, RealtimeFargateServiceProps } from '../../src';
import { NOT_FOUND_SOURCE } from '../../src/front-door/front-door-behaviours';
import { ORIGIN_CHECK_SOURCE } from '../../src/front-door/origin-check';
import { cloudFrontPrefixListId } from '../../src/private/cloudfront-prefix-list';
import { acknowledgedControls, controlFindings, controlReason } from '../support/controls';
import { onlyResource, stackWithVpc, synthError, testImage } from '../support/stacks';

// Managed policy IDs CloudFront publishes (aws-cdk-lib's CachePolicy / OriginRequestPolicy constants).
const CACHING_DISABLED = '4135ea2d-6df8-44a3-9df3-4b5a84be39ad';
const CACHING_OPTIMIZED = '658327ea-f89d-4fab-a63d-7e88639e58f6';
const ALL_VIEWER_EXCEPT_HOST = 'b689b0a8-53d0-40ab-baf2-68738e2966ac';
const EU_WEST_1_PREFIX_LIST = 'pl-4fa04526';
const ALL_METHODS = ['GET', 'HEAD', 'OPTIONS', 'PUT', 'PATCH', 'POST', 'DELETE'];
const SECRET_REF = { 'Fn::Join': ['', ['{{resolve:secretsmanager:', { Ref: expect.stringMatching(/^FrontDoorOriginSecret/) }, ':SecretString:::}}']] };

const site = FrontDoorSite.fromSources([s3deploy.Source.data('index.html', '<h1>board</h1>')]);

interface Setup {
  service?: Partial<RealtimeFargateServiceProps>;
  frontDoor?: (svc: RealtimeFargateService, stack: Stack) => Partial<CdnFrontDoorProps>;
}

/** A front door over a service; by default the service's load balancer is internal (a VPC origin). */
function build(setup: Setup = {}) {
  const { stack, vpc } = stackWithVpc();
  const svc = new RealtimeFargateService(stack, 'Canvas', { vpc, image: testImage, publicLoadBalancer: false, ...setup.service });
  const frontDoor = new CdnFrontDoor(stack, 'FrontDoor', {
    site,
    realtime: [{ service: svc }],
    cached: [{ pathPattern: '/api/board', service: svc, ttl: Duration.seconds(2), queryStrings: ['v'] }],
    api: [{ pathPattern: '/api/*', service: svc }],
    ...setup.frontDoor?.(svc, stack),
  });
  let synthesized: Template | undefined;
  return {
    stack,
    svc,
    frontDoor,
    get t(): Template {
      synthesized ??= Template.fromStack(stack);
      return synthesized;
    },
  };
}

function behaviour(t: Template, pathPattern: string): any {
  const config = onlyResource(t, 'AWS::CloudFront::Distribution').props.DistributionConfig;
  const found = config.CacheBehaviors.find((b: any) => b.PathPattern === pathPattern);
  if (!found) {
    throw new Error(`no behaviour for ${pathPattern}`);
  }
  return found;
}

function originOf(t: Template, b: any): any {
  const config = onlyResource(t, 'AWS::CloudFront::Distribution').props.DistributionConfig;
  return config.Origins.find((o: any) => o.Id === b.TargetOriginId);
}

describe('CdnFrontDoor: the site', () => {
  test('the default behaviour serves the private bucket through Origin Access Control', () => {
    const { t } = build();
    const config = onlyResource(t, 'AWS::CloudFront::Distribution').props.DistributionConfig;
    expect(config.DefaultCacheBehavior).toEqual(expect.objectContaining({
      ViewerProtocolPolicy: 'redirect-to-https',
      CachePolicyId: CACHING_OPTIMIZED,
      Compress: true,
      ResponseHeadersPolicyId: { Ref: expect.stringMatching(/^FrontDoorSecurityHeaders/) },
    }));
    const siteOrigin = originOf(t, config.DefaultCacheBehavior);
    expect(siteOrigin.S3OriginConfig).toEqual({ OriginAccessIdentity: '' });
    expect(siteOrigin.OriginAccessControlId).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/OriginAccessControl/), 'Id'] });
    t.hasResourceProperties('AWS::CloudFront::OriginAccessControl', {
      OriginAccessControlConfig: { OriginAccessControlOriginType: 's3', SigningBehavior: 'always', SigningProtocol: 'sigv4' },
    });
    expect(config).toEqual(expect.objectContaining({
      DefaultRootObject: 'index.html',
      HttpVersion: 'http2and3',
      IPV6Enabled: true,
      PriceClass: 'PriceClass_100',
      Logging: { Bucket: { 'Fn::GetAtt': [expect.stringMatching(/FrontDoorAccessLogs/), 'RegionalDomainName'] }, Prefix: 'cloudfront/' },
    }));
    expect(config.CustomErrorResponses).toBeUndefined();
  });

  test('the site bucket is private, encrypted, TLS-only, versioned and logged', () => {
    const { t } = build();
    const bucket = Object.values(t.findResources('AWS::S3::Bucket')).find((b: any) => b.Properties.LoggingConfiguration) as any;
    expect(bucket.Properties).toEqual(expect.objectContaining({
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      VersioningConfiguration: { Status: 'Enabled' },
      LoggingConfiguration: { DestinationBucketName: { Ref: expect.stringMatching(/FrontDoorAccessLogs/) }, LogFilePrefix: 'site-bucket/' },
      NotificationConfiguration: { EventBridgeConfiguration: { EventBridgeEnabled: true } },
    }));
    expect(bucket.DeletionPolicy).toBe('Retain');
    expect(t.findResources('Custom::S3BucketNotifications')).toEqual({});
  });

  test('the site bucket policy admits only this distribution, and only over TLS', () => {
    const { t } = build();
    const policy = Object.values(t.findResources('AWS::S3::BucketPolicy', {
      Properties: { Bucket: { Ref: Match.stringLikeRegexp('FrontDoorSiteBucket') } },
    }))[0] as any;
    const statements = policy.Properties.PolicyDocument.Statement;
    expect(statements).toHaveLength(2);
    expect(statements[0]).toEqual(expect.objectContaining({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }));
    expect(statements[1]).toEqual({
      Effect: 'Allow',
      Action: 's3:GetObject',
      Principal: { Service: 'cloudfront.amazonaws.com' },
      Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [expect.stringMatching(/FrontDoorSiteBucket/), 'Arn'] }, '/*']] },
      Condition: {
        StringEquals: {
          'AWS:SourceArn': {
            'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':cloudfront::', { Ref: 'AWS::AccountId' }, ':distribution/', { Ref: expect.stringMatching(/FrontDoorDistribution/) }]],
          },
        },
      },
    });
  });

  test('the access-log bucket is encrypted, TLS-only, closed to the public, versioned and accepts CloudFront\'s ACL writes', () => {
    const { t } = build();
    t.hasResourceProperties('AWS::S3::Bucket', {
      AccessControl: 'LogDeliveryWrite',
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerPreferred' }] },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      VersioningConfiguration: { Status: 'Enabled' },
      LifecycleConfiguration: { Rules: [{ ExpirationInDays: 90, NoncurrentVersionExpiration: { NoncurrentDays: 1 }, Status: 'Enabled' }] },
      NotificationConfiguration: { EventBridgeConfiguration: { EventBridgeEnabled: true } },
    });
  });

  test('both buckets are retained by cdk destroy by default', () => {
    const { t } = build();
    const buckets = Object.values(t.findResources('AWS::S3::Bucket', { Properties: { BucketName: Match.absent() } })) as any[];
    const ours = buckets.filter(b => b.Properties.LoggingConfiguration?.LogFilePrefix === 'site-bucket/' || b.Properties.AccessControl === 'LogDeliveryWrite');
    expect(ours.map(b => [b.DeletionPolicy, b.UpdateReplacePolicy])).toEqual([['Retain', 'Retain'], ['Retain', 'Retain']]);
    expect(t.findResources('Custom::S3AutoDeleteObjects')).toEqual({});
  });

  // CloudFormation deletes only empty buckets (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-s3-bucket.html),
  // so DESTROY comes with aws-cdk-lib's autoDeleteObjects, which empties each bucket first.
  test('removal policy DESTROY deletes and empties each bucket, with the handler acknowledged', () => {
    const destroy = RemovalPolicy.DESTROY;
    const { t, stack } = build({ frontDoor: () => ({ siteBucketRemovalPolicy: destroy, accessLogsRemovalPolicy: destroy }) });
    const deletionPolicies = Object.entries(t.findResources('AWS::S3::Bucket'))
      .filter(([id]) => /^FrontDoor(SiteBucket|AccessLogs)/.test(id)).map(([, b]: [string, any]) => b.DeletionPolicy);
    expect(deletionPolicies).toEqual(['Delete', 'Delete']);
    const emptied = Object.values(t.findResources('Custom::S3AutoDeleteObjects')).map((r: any) => r.Properties.BucketName.Ref).sort();
    expect(emptied).toEqual([expect.stringMatching(/^FrontDoorAccessLogs/), expect.stringMatching(/^FrontDoorSiteBucket/)]);
    expect(nagFindings(stack)).toEqual([]);
    expect(controlFindings(stack, 'Test/').filter(f => /AutoDelete|FrontDoor/.test(f))).toEqual([]);
  });

  test('only the site bucket is destroyed when only it asks; a given access-log bucket is never touched', () => {
    const given = build({
      frontDoor: (_svc, stack) => ({
        accessLogsRemovalPolicy: RemovalPolicy.DESTROY,
        accessLogsBucket: new s3.Bucket(stack, 'Logs', { objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED }),
      }),
    });
    expect(given.t.findResources('Custom::S3AutoDeleteObjects')).toEqual({});
    const logsBucket = Object.entries(given.t.findResources('AWS::S3::Bucket')).find(([id]) => id.startsWith('Logs'))![1] as any;
    expect(logsBucket.DeletionPolicy).toBe('Retain');
    const onlySite = build({ frontDoor: () => ({ siteBucketRemovalPolicy: RemovalPolicy.DESTROY }) });
    const emptied = Object.values(onlySite.t.findResources('Custom::S3AutoDeleteObjects')).map((r: any) => r.Properties.BucketName.Ref);
    expect(emptied).toEqual([expect.stringMatching(/^FrontDoorSiteBucket/)]);
  });

  test('the folder is deployed with pruning and the whole cache invalidated', () => {
    const { t } = build();
    t.hasResourceProperties('Custom::CDKBucketDeployment', {
      DestinationBucketName: { Ref: Match.stringLikeRegexp('FrontDoorSiteBucket') },
      DistributionId: { Ref: Match.stringLikeRegexp('FrontDoorDistribution') },
      DistributionPaths: ['/*'],
      Prune: true,
    });
  });

  // Custom error responses apply to every behaviour of a distribution, so they would answer an API's 403
  // or 404 with 200 and the page; the rewrite must live on the site behaviour alone:
  // https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/GeneratingCustomErrorResponses.html
  test('a single-page app rewrites extensionless site paths on the site behaviour only; API errors pass unchanged', () => {
    const { t } = build({ frontDoor: () => ({ site: FrontDoorSite.fromSources([s3deploy.Source.data('app.html', 'x')], { singlePageApp: true, defaultRootObject: 'app.html' }) }) });
    const config = onlyResource(t, 'AWS::CloudFront::Distribution').props.DistributionConfig;
    expect(config.DefaultRootObject).toBe('app.html');
    expect(config.CustomErrorResponses).toBeUndefined();
    const [association] = config.DefaultCacheBehavior.FunctionAssociations;
    expect(association).toEqual({ EventType: 'viewer-request', FunctionARN: { 'Fn::GetAtt': [expect.stringMatching(/FrontDoorSpaRewrite/), 'FunctionARN'] } });
    for (const b of config.CacheBehaviors) {
      expect(b.FunctionAssociations).toBeUndefined();
    }
    const fn = onlyResource(t, 'AWS::CloudFront::Function').props;
    expect(fn.FunctionConfig.Runtime).toBe('cloudfront-js-2.0');
    // The function's own code, run on CloudFront's viewer-request event shape.
    const handler = new Function(`${fn.FunctionCode}; return handler;`)();
    const uri = (path: string) => handler({ request: { uri: path, headers: {} } }).uri;
    expect(uri('/rooms/42')).toBe('/app.html');
    expect(uri('/')).toBe('/app.html');
    expect(uri('/app.js')).toBe('/app.js');
    expect(uri('/assets/logo.svg')).toBe('/assets/logo.svg');
  });

  test('security headers on every response, with a strict default content security policy', () => {
    const { t } = build();
    t.hasResourceProperties('AWS::CloudFront::ResponseHeadersPolicy', {
      ResponseHeadersPolicyConfig: {
        SecurityHeadersConfig: {
          StrictTransportSecurity: { AccessControlMaxAgeSec: 63_072_000, IncludeSubdomains: true, Override: true },
          ContentTypeOptions: { Override: true },
          FrameOptions: { FrameOption: 'DENY', Override: true },
          ReferrerPolicy: { ReferrerPolicy: 'strict-origin-when-cross-origin', Override: true },
          ContentSecurityPolicy: {
            ContentSecurityPolicy: "default-src 'self'; connect-src 'self'; img-src 'self' data: blob:; style-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'",
            Override: true,
          },
        },
      },
    });
  });

  test('content security policy and price class are configurable', () => {
    const { t } = build({ frontDoor: () => ({ contentSecurityPolicy: "default-src 'self' cdn.example.com", priceClass: cloudfront.PriceClass.PRICE_CLASS_ALL }) });
    t.hasResourceProperties('AWS::CloudFront::ResponseHeadersPolicy', {
      ResponseHeadersPolicyConfig: { SecurityHeadersConfig: { ContentSecurityPolicy: { ContentSecurityPolicy: "default-src 'self' cdn.example.com" } } },
    });
    expect(onlyResource(t, 'AWS::CloudFront::Distribution').props.DistributionConfig.PriceClass).toBe('PriceClass_All');
  });
});

describe('CdnFrontDoor: realtime, API and cached paths', () => {
  test('the realtime path is never cached, forwards every viewer header but Host and all methods, HTTPS only', () => {
    const { t } = build();
    expect(behaviour(t, '/ws*')).toEqual(expect.objectContaining({
      CachePolicyId: CACHING_DISABLED,
      OriginRequestPolicyId: ALL_VIEWER_EXCEPT_HOST,
      AllowedMethods: ALL_METHODS,
      ViewerProtocolPolicy: 'https-only',
      Compress: false,
    }));
  });

  test('a custom realtime path', () => {
    const { t } = build({ frontDoor: svc => ({ realtime: [{ pathPattern: '/live/*', service: svc }] }) });
    expect(behaviour(t, '/live/*').CachePolicyId).toBe(CACHING_DISABLED);
  });

  test('API paths are never cached and forward everything but Host', () => {
    const { t } = build();
    expect(behaviour(t, '/api/*')).toEqual(expect.objectContaining({
      CachePolicyId: CACHING_DISABLED,
      OriginRequestPolicyId: ALL_VIEWER_EXCEPT_HOST,
      AllowedMethods: ALL_METHODS,
      ViewerProtocolPolicy: 'redirect-to-https',
    }));
  });

  test('cached paths have a short TTL keyed on the listed query strings and the encoding only, and come before API paths', () => {
    const { t } = build();
    const config = onlyResource(t, 'AWS::CloudFront::Distribution').props.DistributionConfig;
    expect(config.CacheBehaviors.map((b: any) => b.PathPattern)).toEqual(['/api/board', '/ws*', '/api/*']);
    expect(behaviour(t, '/api/board')).toEqual(expect.objectContaining({ AllowedMethods: ['GET', 'HEAD'], CachedMethods: ['GET', 'HEAD'] }));
    t.hasResourceProperties('AWS::CloudFront::CachePolicy', {
      CachePolicyConfig: {
        MinTTL: 0,
        DefaultTTL: 2,
        MaxTTL: 2,
        ParametersInCacheKeyAndForwardedToOrigin: {
          CookiesConfig: { CookieBehavior: 'none' },
          HeadersConfig: { HeaderBehavior: 'none' },
          QueryStringsConfig: { QueryStringBehavior: 'whitelist', QueryStrings: ['v'] },
          EnableAcceptEncodingGzip: true,
          EnableAcceptEncodingBrotli: true,
        },
      },
    });
  });

  test('all paths of one service share one origin', () => {
    const { t } = build();
    const config = onlyResource(t, 'AWS::CloudFront::Distribution').props.DistributionConfig;
    expect(config.Origins).toHaveLength(2);
    expect(new Set(config.CacheBehaviors.map((b: any) => b.TargetOriginId)).size).toBe(1);
  });

  test('an HTTP API path goes over HTTPS to the API\'s endpoint with the secret origin header', () => {
    const { t } = build({
      service: { publicLoadBalancer: false },
      frontDoor: (_svc, stack) => ({
        api: [{ pathPattern: '/search*', httpApi: new apigwv2.HttpApi(stack, 'Search') }],
        cached: [],
      }),
    });
    const origin = originOf(t, behaviour(t, '/search*'));
    expect(origin.DomainName).toEqual({ 'Fn::Join': ['', [{ Ref: expect.stringMatching(/Search/) }, '.execute-api.eu-west-1.', { Ref: 'AWS::URLSuffix' }]] });
    expect(origin.CustomOriginConfig).toEqual(expect.objectContaining({ OriginProtocolPolicy: 'https-only', OriginSSLProtocols: ['TLSv1.2'] }));
    expect(origin.OriginCustomHeaders).toEqual([{ HeaderName: 'X-Origin-Verify', HeaderValue: SECRET_REF }]);
  });

  function withSearchApi(authorize: boolean) {
    const built = build({ service: { publicLoadBalancer: false }, frontDoor: (_svc, stack) => ({ api: [{ pathPattern: '/search*', httpApi: new apigwv2.HttpApi(stack, 'Search') }], cached: [] }) });
    const api = built.stack.node.findChild('Search') as apigwv2.HttpApi;
    const fn = new lambda.Function(built.stack, 'SearchHandler', { runtime: lambda.Runtime.NODEJS_24_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler=async()=>({})') });
    api.addRoutes({
      path: '/search',
      methods: [apigwv2.HttpMethod.GET],
      integration: new integrations.HttpLambdaIntegration('Search', fn),
      authorizer: authorize ? built.frontDoor.originCheckAuthorizer() : undefined,
    });
    return built;
  }

  test('HTTP API routes use the origin-check authorizer: header as identity source, simple answers, cached 5 minutes', () => {
    const { t, stack } = withSearchApi(true);
    const authorizer = onlyResource(t, 'AWS::ApiGatewayV2::Authorizer').props;
    expect(authorizer).toEqual(expect.objectContaining({
      AuthorizerType: 'REQUEST',
      IdentitySource: ['$request.header.X-Origin-Verify'],
      EnableSimpleResponses: true,
      AuthorizerResultTtlInSeconds: 300,
      AuthorizerPayloadFormatVersion: '2.0',
    }));
    expect(JSON.stringify(authorizer.AuthorizerUri)).toMatch(/FrontDoorOriginCheckFunction/);
    t.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'GET /search', AuthorizationType: 'CUSTOM' });
    t.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Environment: { Variables: { ORIGIN_HEADER: 'x-origin-verify', ORIGIN_SECRET_ARN: { Ref: Match.stringLikeRegexp('FrontDoorOriginSecret') } } },
    });
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'], Resource: { Ref: Match.stringLikeRegexp('FrontDoorOriginSecret') } })]) },
    });
    const ours = nagFindings(stack).filter(f => f.resources.some(r => r.startsWith('Test/FrontDoor/')));
    expect(ours).toEqual([]);
  });

  test('originCheckAuthorizer() for several routes of one API gives that API one authorizer; a second API gets its own', () => {
    const { stack, frontDoor } = build({
      service: { publicLoadBalancer: false },
      frontDoor: (_svc, st) => ({ api: [{ pathPattern: '/search*', httpApi: new apigwv2.HttpApi(st, 'Search') }, { pathPattern: '/admin*', httpApi: new apigwv2.HttpApi(st, 'Admin') }], cached: [] }),
    });
    const fn = new lambda.Function(stack, 'Handler', { runtime: lambda.Runtime.NODEJS_24_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler=async()=>({})') });
    for (const [apiId, paths] of [['Search', ['/search', '/search/recent']], ['Admin', ['/admin']]] as const) {
      const api = stack.node.findChild(apiId) as apigwv2.HttpApi;
      for (const path of paths) {
        api.addRoutes({ path, methods: [apigwv2.HttpMethod.GET], integration: new integrations.HttpLambdaIntegration(`I${path}`, fn), authorizer: frontDoor.originCheckAuthorizer() });
      }
    }
    const t = Template.fromStack(stack);
    const authorizers = t.findResources('AWS::ApiGatewayV2::Authorizer');
    expect(Object.values(authorizers).map((a: any) => a.Properties.ApiId.Ref).sort()).toEqual([expect.stringMatching(/^Admin/), expect.stringMatching(/^Search/)]);
    const routes = Object.values(t.findResources('AWS::ApiGatewayV2::Route')).map((r: any) => r.Properties);
    expect(routes).toHaveLength(3);
    for (const route of routes) {
      expect(route.AuthorizationType).toBe('CUSTOM');
    }
    expect(new Set(routes.filter(r => r.ApiId.Ref.startsWith('Search')).map(r => JSON.stringify(r.AuthorizerId))).size).toBe(1);
  });

  test('the origin-check log group is deleted by cdk destroy unless logRemovalPolicy says otherwise', () => {
    const logGroups = (t: Template) => Object.entries(t.findResources('AWS::Logs::LogGroup'))
      .filter(([id]) => id.startsWith('FrontDoorOriginCheckLogs')).map(([, r]: [string, any]) => r.DeletionPolicy);
    expect(logGroups(withSearchApi(true).t)).toEqual(['Delete']);
    const kept = build({
      service: { publicLoadBalancer: false },
      frontDoor: (_svc, st) => ({ api: [{ pathPattern: '/search*', httpApi: new apigwv2.HttpApi(st, 'Search') }], cached: [], logRemovalPolicy: RemovalPolicy.RETAIN }),
    });
    (kept.stack.node.findChild('Search') as apigwv2.HttpApi).addRoutes({
      path: '/search',
      methods: [apigwv2.HttpMethod.GET],
      integration: new integrations.HttpLambdaIntegration('Search', new lambda.Function(kept.stack, 'H', {
        runtime: lambda.Runtime.NODEJS_24_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler=async()=>({})'),
      })),
      authorizer: kept.frontDoor.originCheckAuthorizer(),
    });
    expect(logGroups(kept.t)).toEqual(['Retain']);
  });

  test('an HTTP API route without the origin check fails synth with the fix', () => {
    const { stack } = withSearchApi(false);
    expect(synthError(stack)).toContain("Test/FrontDoor: route 'GET /search' of Test/Search answers on the API's own endpoint, around the distribution; give it authorizer: FrontDoor.originCheckAuthorizer()");
  });
});

describe('CdnFrontDoor under Control Tower\'s proactive controls', () => {

  /** A front door over an internal service and an HTTP API, with a key for the logs of both. */
  function guarded(frontDoor: Partial<CdnFrontDoorProps> = {}) {
    const { stack, vpc } = stackWithVpc();
    const key = new kms.Key(stack, 'Key');
    const svc = new RealtimeFargateService(stack, 'Canvas', { vpc, image: testImage, publicLoadBalancer: false, logEncryptionKey: key });
    const api = new apigwv2.HttpApi(stack, 'Search');
    const door = new CdnFrontDoor(stack, 'FrontDoor', {
      site,
      realtime: [{ service: svc }],
      api: [{ pathPattern: '/search*', httpApi: api }],
      logEncryptionKey: key,
      ...frontDoor,
    });
    const fn = new lambda.Function(stack, 'SearchHandler', { runtime: lambda.Runtime.NODEJS_24_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler=async()=>({})') });
    api.addRoutes({ path: '/search', methods: [apigwv2.HttpMethod.GET], integration: new integrations.HttpLambdaIntegration('Search', fn), authorizer: door.originCheckAuthorizer() });
    return { stack, key };
  }

  /** The acknowledgements, with the hashes in generated paths (BucketDeployment's handler, the authorizer's permission) elided. */
  function acknowledged(stack: Stack): Record<string, string[]> {
    return Object.fromEntries(Object.entries(acknowledgedControls(stack, 'Test/'))
      .map(([path, rules]) => [path.replace(/[0-9A-F]{8,}/g, '…'), rules]));
  }

  test('the front door, its buckets, its functions and the origin check\'s invoke permission leave no unacknowledged finding', () => {
    const { stack } = guarded();
    const findings = controlFindings(stack, 'Test/');
    // What is left belongs to the test's own VPC, key, API stage and function.
    expect(findings.filter(f => /on Test\/(FrontDoor|Canvas|Custom::CDKBucketDeployment)/.test(f) || /OriginCheck/.test(f))).toEqual([]);
    // The permission of the route's own integration is not the front door's to acknowledge.
    expect(findings).toContain('CT.LAMBDA.PR.2 lambda_function_public_access_prohibited_check on Test/Search/GET--search/Search-Permission');
  });

  test('acknowledges exactly these rules, on exactly these resources, without a custom domain', () => {
    const { stack } = guarded();
    expect(acknowledged(stack)).toEqual({
      'Test/Canvas/AccessLogs/Resource': ['s3_bucket_default_encryption_kms_check', 's3_bucket_logging_enabled_check', 's3_bucket_object_lock_enabled_check'],
      'Test/Canvas/LoadBalancer/Http/Resource': ['alb_http_to_https_redirection_check'],
      'Test/FrontDoor/AccessLogs/Resource': ['s3_bucket_acl_prohibited_check', 's3_bucket_default_encryption_kms_check', 's3_bucket_logging_enabled_check', 's3_bucket_object_lock_enabled_check'],
      'Test/FrontDoor/SiteBucket/Resource': ['s3_bucket_default_encryption_kms_check', 's3_bucket_object_lock_enabled_check'],
      'Test/FrontDoor/Distribution/Resource': ['cloudfront_custom_ssl_certificate_check', 'cloudfront_origin_failover_enabled_check', 'cloudfront_security_policy_check', 'cloudfront_sni_enabled_check'],
      'Test/FrontDoor/OriginCheck/Function/Resource': ['lambda_inside_vpc_check'],
      'Test/Custom::CDKBucketDeployment…MiB/Resource': ['lambda_inside_vpc_check'],
      'Test/Search/TestSearchOriginCheck…-Permission': ['lambda_function_public_access_prohibited_check'],
    });
    expect(controlReason(stack, 'Test/FrontDoor/AccessLogs/Resource', 's3_bucket_acl_prohibited_check'))
      .toBe('CloudFront standard logging writes log files through the bucket ACL, so ACLs must stay enabled for it; public ACLs are blocked.');
  });

  test('with a custom domain the certificate, SNI and TLS-policy controls pass without an acknowledgement', () => {
    const { stack } = guarded({
      domain: { domainNames: ['canvas.example.com'], certificate: acm.Certificate.fromCertificateArn(new Stack(), 'C', 'arn:aws:acm:us-east-1:111122223333:certificate/viewer') },
    });
    expect(acknowledgedControls(stack, 'Test/FrontDoor/Distribution')).toEqual({ 'Test/FrontDoor/Distribution/Resource': ['cloudfront_origin_failover_enabled_check'] });
    expect(controlFindings(stack, 'Test/FrontDoor/Distribution')).toEqual([]);
  });

  test('the origin check\'s logs are kept a year by default, or for logRetention, and encrypted with logEncryptionKey', () => {
    const retentionAndKey = (stack: Stack) => {
      const group = stack.node.findChild('FrontDoor').node.findChild('OriginCheck').node.findChild('Logs').node.defaultChild as logs.CfnLogGroup;
      return stack.resolve([group.retentionInDays, group.kmsKeyId]);
    };
    const { stack, key } = guarded();
    expect(retentionAndKey(stack)).toEqual([365, stack.resolve(key.keyArn)]);
    expect(retentionAndKey(guarded({ logRetention: logs.RetentionDays.TWO_YEARS, logEncryptionKey: undefined }).stack)).toEqual([731, undefined]);
  });

  test('a given access-log bucket is neither changed nor acknowledged', () => {
    const { stack, vpc } = stackWithVpc();
    const bucket = new s3.Bucket(stack, 'Logs', { objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED });
    const svc = new RealtimeFargateService(stack, 'Canvas', { vpc, image: testImage, publicLoadBalancer: false });
    new CdnFrontDoor(stack, 'FrontDoor', { site, realtime: [{ service: svc }], accessLogsBucket: bucket });
    expect(acknowledgedControls(stack, 'Test/Logs')).toEqual({});
    expect(stack.resolve((bucket.node.defaultChild as s3.CfnBucket).notificationConfiguration)).toBeUndefined();
  });
});

describe('the origin-check function', () => {
  function load(secretValue: string | (() => Promise<never>)) {
    let fetches = 0;
    const secretsManager = {
      SecretsManagerClient: class {
        public async send(command: { input: { SecretId: string } }) {
          fetches++;
          expect(command.input.SecretId).toBe('arn:secret');
          return typeof secretValue === 'string' ? { SecretString: secretValue } : secretValue();
        }
      },
      GetSecretValueCommand: class {
        constructor(public readonly input: { SecretId: string }) {}
      },
    };
    const module = { exports: {} as { handler: (event: unknown) => Promise<{ isAuthorized: boolean }> } };
    // Only Secrets Manager is replaced (its API cannot run here); crypto and the handler are the real ones.
    const evaluate = new Function('require', 'module', 'exports', 'process', ORIGIN_CHECK_SOURCE);
    evaluate((id: string) => (id === 'crypto' ? crypto : secretsManager), module, module.exports, { env: { ORIGIN_HEADER: 'x-origin-verify', ORIGIN_SECRET_ARN: 'arn:secret' } });
    return { handler: module.exports.handler, fetches: () => fetches };
  }

  test('admits the right header only, and reads the secret once', async () => {
    const { handler, fetches } = load('s3cret-value');
    await expect(handler({ headers: { 'x-origin-verify': 's3cret-value' } })).resolves.toEqual({ isAuthorized: true });
    await expect(handler({ headers: { 'x-origin-verify': 's3cret-valuf' } })).resolves.toEqual({ isAuthorized: false });
    await expect(handler({ headers: { 'x-origin-verify': 'short' } })).resolves.toEqual({ isAuthorized: false });
    await expect(handler({ headers: {} })).resolves.toEqual({ isAuthorized: false });
    await expect(handler({})).resolves.toEqual({ isAuthorized: false });
    expect(fetches()).toBe(1);
  });

  test('a failed secret read fails the request and is retried on the next one', async () => {
    let fail = true;
    const { handler, fetches } = load(() => (fail ? Promise.reject(new Error('throttled')) : Promise.resolve({ SecretString: 'v' }) as never));
    await expect(handler({ headers: { 'x-origin-verify': 'v' } })).rejects.toThrow('throttled');
    fail = false;
    await expect(handler({ headers: { 'x-origin-verify': 'v' } })).resolves.toEqual({ isAuthorized: true });
    expect(fetches()).toBe(2);
  });
});

describe('CdnFrontDoor: origin protection', () => {
  const originCert = () => acm.Certificate.fromCertificateArn(stackWithVpc().stack, 'C', 'arn:aws:acm:eu-west-1:111122223333:certificate/origin');
  const internetFacing = (): Setup => ({
    service: { publicLoadBalancer: true, certificate: originCert() },
    frontDoor: svc => ({
      realtime: [{ service: svc, originDomainName: 'origin.example.com' }],
      cached: [{ pathPattern: '/api/board', service: svc, originDomainName: 'origin.example.com' }],
      api: [{ pathPattern: '/api/*', service: svc, originDomainName: 'origin.example.com' }],
    }),
  });

  test('an internet-facing load balancer admits only CloudFront\'s prefix list on 443 and requires the secret header', () => {
    const { t, svc } = build(internetFacing());
    expect(svc.isFronted).toBe(true);
    expect(t.findResources('AWS::EC2::SecurityGroupIngress', { Properties: { CidrIp: '0.0.0.0/0' } })).toEqual({});
    const lbIngress = t.findResources('AWS::EC2::SecurityGroupIngress', {
      Properties: { GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('CanvasLoadBalancerSecurityGroup'), 'GroupId'] } },
    });
    expect(Object.values(lbIngress).map((r: any) => r.Properties)).toEqual([
      expect.objectContaining({ IpProtocol: 'tcp', FromPort: 443, ToPort: 443, SourcePrefixListId: EU_WEST_1_PREFIX_LIST }),
    ]);
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Port: 443,
      DefaultActions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '403', ContentType: 'text/plain', MessageBody: 'Forbidden' } }],
    });
    const rule = onlyResource(t, 'AWS::ElasticLoadBalancingV2::ListenerRule').props;
    expect(rule).toEqual(expect.objectContaining({
      Priority: 1,
      Conditions: [{ Field: 'http-header', HttpHeaderConfig: { HttpHeaderName: 'X-Origin-Verify', Values: [SECRET_REF] } }],
      Actions: [expect.objectContaining({ Type: 'forward' })],
    }));
    const origin = originOf(t, behaviour(t, '/ws*'));
    expect(origin.DomainName).toBe('origin.example.com');
    expect(origin.CustomOriginConfig).toEqual(expect.objectContaining({ OriginProtocolPolicy: 'https-only', OriginReadTimeout: 60, OriginKeepaliveTimeout: 60 }));
    expect(origin.OriginCustomHeaders).toEqual([{ HeaderName: 'X-Origin-Verify', HeaderValue: SECRET_REF }]);
  });

  test('the secret header never goes in clear text to an internet-facing HTTP origin unless asked for by name', () => {
    expect(() => build({ service: { publicLoadBalancer: true } })).toThrow("Test/FrontDoor: route to Test/Canvas 'HTTP' would send the secret origin header across the internet in clear text, "
      + "because the service's internet-facing load balancer has no certificate; give the service a certificate (and the route an originDomainName), "
      + 'make its load balancer internal (publicLoadBalancer: false) so CloudFront reaches it through a VPC origin, or set insecureHttpToOrigin: true for a development stack');
    const { t, stack } = build({ service: { publicLoadBalancer: true }, frontDoor: () => ({ insecureHttpToOrigin: true }) });
    const origin = originOf(t, behaviour(t, '/ws*'));
    expect(origin.DomainName).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/CanvasLoadBalancer/), 'DNSName'] });
    expect(origin.CustomOriginConfig).toEqual(expect.objectContaining({ OriginProtocolPolicy: 'http-only' }));
    expect(nagFindings(stack)).toEqual([]);
    expect(controlReason(stack, 'Test/Canvas/LoadBalancer/Http/Resource', 'alb_http_to_https_redirection_check'))
      .toMatch(/^This internet-facing load balancer has no certificate, so Test\/FrontDoor reaches it over plain HTTP, a development setting \(insecureHttpToOrigin\);/);
  });

  test('the header value is one generated secret, the same in the distribution and the listener rule', () => {
    const { t } = build(internetFacing());
    const secret = onlyResource(t, 'AWS::SecretsManager::Secret');
    expect(secret.props.GenerateSecretString).toEqual({ ExcludePunctuation: true, IncludeSpace: false, PasswordLength: 48 });
    const rule = onlyResource(t, 'AWS::ElasticLoadBalancingV2::ListenerRule').props;
    const origin = originOf(t, behaviour(t, '/ws*'));
    expect(rule.Conditions[0].HttpHeaderConfig.Values[0]).toEqual(origin.OriginCustomHeaders[0].HeaderValue);
    expect(JSON.stringify(origin.OriginCustomHeaders[0].HeaderValue)).toContain(secret.logicalId);
  });

  test('an internal load balancer is reached through a VPC origin, with no header and no secret', () => {
    const { t } = build({ service: { publicLoadBalancer: false } });
    t.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', { Scheme: 'internal' });
    t.hasResourceProperties('AWS::CloudFront::VpcOrigin', {
      VpcOriginEndpointConfig: { Arn: { Ref: Match.stringLikeRegexp('CanvasLoadBalancer') }, OriginProtocolPolicy: 'http-only', HTTPPort: Match.absent() },
    });
    const origin = originOf(t, behaviour(t, '/ws*'));
    expect(origin.VpcOriginConfig).toEqual(expect.objectContaining({ VpcOriginId: { 'Fn::GetAtt': [expect.stringMatching(/VpcOrigin/), 'Id'] } }));
    expect(origin.OriginCustomHeaders).toBeUndefined();
    t.resourceCountIs('AWS::SecretsManager::Secret', 0);
    t.resourceCountIs('AWS::ElasticLoadBalancingV2::ListenerRule', 0);
    t.hasResourceProperties('AWS::EC2::SecurityGroupIngress', { SourcePrefixListId: EU_WEST_1_PREFIX_LIST, FromPort: 80 });
    expect(t.findResources('AWS::EC2::SecurityGroupIngress', { Properties: { CidrIp: '0.0.0.0/0' } })).toEqual({});
  });

  test('a service with a certificate and no origin name fails with the fix', () => {
    expect(() => build({
      service: { certificate: originCert() },
    })).toThrow(/^Test\/FrontDoor: originDomainName for Test\/Canvas undefined is required because the service serves HTTPS .*; give a name on the service's certificate that resolves to its load balancer$/);
  });

  test('a service can be behind one front door only', () => {
    const { stack, svc } = build();
    expect(() => new CdnFrontDoor(stack, 'Second', { site, realtime: [{ service: svc }] }))
      .toThrow('Test/Canvas: already protected by Test/FrontDoor; a service can sit behind one front door only');
  });

  test('cloudFrontPrefixListId overrides the table', () => {
    const { t } = build({ frontDoor: () => ({ cloudFrontPrefixListId: 'pl-0123456789abcdef0' }) });
    t.hasResourceProperties('AWS::EC2::SecurityGroupIngress', { SourcePrefixListId: 'pl-0123456789abcdef0' });
  });

  test('the prefix list comes from a mapping when the region is unknown at synth, and a clear error when it is not in the table', () => {
    const agnostic = new Stack(new App(), 'Agnostic');
    const id = cloudFrontPrefixListId(agnostic, 'Agnostic/FrontDoor');
    expect(agnostic.resolve(id)).toEqual({ 'Fn::FindInMap': ['CloudFrontOriginFacingPrefixList', { Ref: 'AWS::Region' }, 'id'] });
    const mapping = Template.fromStack(agnostic).toJSON().Mappings.CloudFrontOriginFacingPrefixList;
    expect(mapping['us-east-1']).toEqual({ id: 'pl-3b927c52' });
    const unknown = new Stack(new App(), 'Far', { env: { region: 'ap-southeast-7' } });
    expect(() => cloudFrontPrefixListId(unknown, 'Far/FrontDoor'))
      .toThrow(/^Far\/FrontDoor: the ID of CloudFront's origin-facing prefix list in ap-southeast-7 is not known to this library; set cloudFrontPrefixListId/);
  });
});

describe('CdnFrontDoor: domain, certificate and WAF', () => {
  const usEast1Cert = (stack: Stack) => acm.Certificate.fromCertificateArn(stack, 'ViewerCert', 'arn:aws:acm:us-east-1:111122223333:certificate/viewer');

  test('a custom domain is served with TLSv1.2_2021 over SNI, with alias records in the zone', () => {
    const { t } = build({
      frontDoor: (_svc, stack) => ({
        domain: {
          domainNames: ['canvas.example.com'],
          certificate: usEast1Cert(stack),
          hostedZone: route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: 'Z123', zoneName: 'example.com' }),
        },
      }),
    });
    const config = onlyResource(t, 'AWS::CloudFront::Distribution').props.DistributionConfig;
    expect(config.Aliases).toEqual(['canvas.example.com']);
    expect(config.ViewerCertificate).toEqual({
      AcmCertificateArn: 'arn:aws:acm:us-east-1:111122223333:certificate/viewer',
      MinimumProtocolVersion: 'TLSv1.2_2021',
      SslSupportMethod: 'sni-only',
    });
    for (const type of ['A', 'AAAA']) {
      t.hasResourceProperties('AWS::Route53::RecordSet', {
        Name: 'canvas.example.com.',
        Type: type,
        HostedZoneId: 'Z123',
        AliasTarget: { DNSName: { 'Fn::GetAtt': [Match.stringLikeRegexp('FrontDoorDistribution'), 'DomainName'] }, HostedZoneId: Match.anyValue() },
      });
    }
  });

  test('with a custom domain the stack is nag-clean without the default-certificate acknowledgment', () => {
    const { stack } = build({ frontDoor: (_svc, s) => ({ domain: { domainNames: ['canvas.example.com'], certificate: usEast1Cert(s) } }) });
    expect(nagFindings(stack)).toEqual([]);
    const distribution = stack.node.findChild('FrontDoor').node.findChild('Distribution');
    expect(JSON.stringify(distribution.node.metadata)).not.toContain('CFR4');
  });

  test('a web ACL by ARN and a geo restriction', () => {
    const arn = 'arn:aws:wafv2:us-east-1:111122223333:global/webacl/front/abc';
    const { t, stack } = build({ frontDoor: () => ({ webAclArn: arn, geoRestriction: cloudfront.GeoRestriction.allowlist('DE', 'FR') }) });
    const config = onlyResource(t, 'AWS::CloudFront::Distribution').props.DistributionConfig;
    expect(config.WebACLId).toBe(arn);
    expect(config.Restrictions).toEqual({ GeoRestriction: { Locations: ['DE', 'FR'], RestrictionType: 'whitelist' } });
    expect(nagFindings(stack)).toEqual([]);
  });

  test('every variant is nag-clean', () => {
    expect(nagFindings(build().stack)).toEqual([]);
    expect(nagFindings(build({ service: { publicLoadBalancer: false } }).stack)).toEqual([]);
  });
});

describe('CdnFrontDoor: validation', () => {
  const cases: [string, Setup, RegExp][] = [
    ['an API path overlapping the realtime path', { frontDoor: svc => ({ api: [{ pathPattern: '/w*', service: svc }], cached: [] }) },
      /^Test\/FrontDoor: api pathPattern '\/w\*' overlaps the realtime path '\/ws\*', so some WebSocket paths would reach the API behaviour; use disjoint patterns/],
    ['a cached path inside the realtime path (a TTL on it)', { frontDoor: svc => ({ cached: [{ pathPattern: '/ws/board', service: svc }] }) },
      /^Test\/FrontDoor: cached pathPattern '\/ws\/board' puts a TTL on the realtime path '\/ws\*'; realtime paths are never cached; move the cached path/],
    ['the same pattern twice', { frontDoor: svc => ({ api: [{ pathPattern: '/api/*', service: svc }, { pathPattern: '/api/*', service: svc }] }) },
      /^Test\/FrontDoor: pathPattern '\/api\/\*' is routed twice; give each path pattern one route$/],
    ['a route on the default path', { frontDoor: svc => ({ api: [{ pathPattern: '/*', service: svc }], realtime: [], cached: [] }) },
      /^Test\/FrontDoor: pathPattern '\/\*' is not a path pattern of its own \(the default behaviour serves the site\)/],
    ['an API route with neither target', { frontDoor: () => ({ api: [{ pathPattern: '/api/*' }] }) },
      /^Test\/FrontDoor: api\[0\] '\/api\/\*' needs exactly one of origin, service and httpApi; give origin, e.g. FrontDoorOrigin.service\(service\)$/],
    ['a cached TTL over a day', { frontDoor: svc => ({ cached: [{ pathPattern: '/api/board', service: svc, ttl: Duration.days(2) }] }) },
      /^Test\/FrontDoor: ttl of cached path \/api\/board 172800s exceeds the cached-path TTL's 86400s limit; use a value from 1s to 86400s$/],
    ['a certificate outside us-east-1', {
      frontDoor: (_svc, stack) => ({ domain: { domainNames: ['a.example.com'], certificate: acm.Certificate.fromCertificateArn(stack, 'EuCert', 'arn:aws:acm:eu-west-1:111122223333:certificate/x') } }),
    }, /^Test\/FrontDoor: domain.certificate 'arn:aws:acm:eu-west-1:111122223333:certificate\/x' is in eu-west-1, but CloudFront uses certificates from us-east-1 only; request or import the certificate in us-east-1/],
    ['a certificate created in a stack outside us-east-1', {
      frontDoor: (_svc, stack) => ({ domain: { domainNames: ['a.example.com'], certificate: new acm.Certificate(stack, 'NewCert', { domainName: 'a.example.com' }) } }),
    }, /is in eu-west-1, but CloudFront uses certificates from us-east-1 only/],
    ['an empty domain list', { frontDoor: (_svc, stack) => ({ domain: { domainNames: [], certificate: acm.Certificate.fromCertificateArn(stack, 'C2', 'arn:aws:acm:us-east-1:1:certificate/y') } }) },
      /^Test\/FrontDoor: domain.domainNames '\[\]' is empty; list at least one name, or leave domain unset$/],
  ];
  test.each(cases)('%s fails synth with a clear message', (_name, setup, message) => {
    expect(() => build(setup)).toThrow(message);
  });

  test('overlap detection leaves disjoint and nested cached/API paths alone', () => {
    expect(() => build({ frontDoor: svc => ({ api: [{ pathPattern: '/api/*', service: svc }, { pathPattern: '/wsx', service: svc }], realtime: [{ pathPattern: '/ws/*', service: svc }] }) }))
      .not.toThrow();
  });
});

describe('CdnFrontDoor: front door and services in separate stacks', () => {
  function split(frontDoorRegion: string, serviceRegion: string, publicLoadBalancer: boolean) {
    const app = new App();
    const data = new Stack(app, 'App', { env: { account: '111122223333', region: serviceRegion }, crossRegionReferences: frontDoorRegion !== serviceRegion });
    const svc = new RealtimeFargateService(data, 'Canvas', {
      image: testImage,
      publicLoadBalancer,
      ...(publicLoadBalancer ? { insecureHttp: true } : {}),
    });
    const edge = new Stack(app, 'Edge', { env: { account: '111122223333', region: frontDoorRegion }, crossRegionReferences: frontDoorRegion !== serviceRegion });
    const buildFrontDoor = () => new CdnFrontDoor(edge, 'FrontDoor', { site, realtime: [{ service: svc }], insecureHttpToOrigin: true });
    return { app, data, edge, buildFrontDoor };
  }

  test('same region: the rule sits in the service\'s stack and the app synthesizes', () => {
    const { app, data, buildFrontDoor } = split('eu-west-1', 'eu-west-1', false);
    buildFrontDoor();
    const assembly = app.synth();
    const template = assembly.getStackByName('App').template;
    const rules = Object.values(template.Resources).filter((r: any) => r.Type === 'AWS::EC2::SecurityGroupIngress' && r.Properties.SourcePrefixListId);
    expect(rules.map((r: any) => r.Properties)).toEqual([expect.objectContaining({ SourcePrefixListId: EU_WEST_1_PREFIX_LIST, FromPort: 80 })]);
    // References flow one way, from the front door's stack to the service's.
    expect(JSON.stringify(template)).not.toContain('Fn::ImportValue');
    expect(data.dependencies).toEqual([]);
  });

  // The origin-facing list has a different ID in every region; a security group can only reference a
  // prefix list of its own region, so the ID must come from the service's stack, not the front door's.
  test('front door in us-east-1, service in eu-west-1: the service admits the eu-west-1 list', () => {
    const { app, buildFrontDoor } = split('us-east-1', 'eu-west-1', false);
    buildFrontDoor();
    const template = app.synth().getStackByName('App').template;
    const rules = Object.values(template.Resources).filter((r: any) => r.Type === 'AWS::EC2::SecurityGroupIngress' && r.Properties.SourcePrefixListId);
    expect(rules.map((r: any) => r.Properties.SourcePrefixListId)).toEqual([EU_WEST_1_PREFIX_LIST]);
    expect(JSON.stringify(template)).not.toContain('pl-3b927c52');
  });

  /** An edge stack with the front door and an app stack with two internet-facing services: HTTPS and (development) HTTP. */
  function internetFacingSplit(frontDoorRegion: string, serviceRegion: string) {
    const app = new App();
    const crossRegionReferences = frontDoorRegion !== serviceRegion;
    const data = new Stack(app, 'App', { env: { account: '111122223333', region: serviceRegion }, crossRegionReferences });
    const certificate = acm.Certificate.fromCertificateArn(data, 'OriginCert', `arn:aws:acm:${serviceRegion}:111122223333:certificate/origin`);
    const canvas = new RealtimeFargateService(data, 'Canvas', { image: testImage, certificate });
    const chat = new RealtimeFargateService(data, 'Chat', { image: testImage, insecureHttp: true });
    const edge = new Stack(app, 'Edge', { env: { account: '111122223333', region: frontDoorRegion }, crossRegionReferences });
    const buildFrontDoor = () => new CdnFrontDoor(edge, 'FrontDoor', {
      site,
      realtime: [{ service: canvas, originDomainName: 'canvas-origin.example.com' }, { pathPattern: '/chat/ws*', service: chat }],
      api: [{ pathPattern: '/api/*', service: canvas, originDomainName: 'canvas-origin.example.com' }],
      insecureHttpToOrigin: true,
    });
    return { app, data, edge, buildFrontDoor };
  }

  test('same region, internet-facing services: each service\'s header secret lives in its stack, and references flow edge → app only', () => {
    const { app, data, edge, buildFrontDoor } = internetFacingSplit('eu-west-1', 'eu-west-1');
    const frontDoor = buildFrontDoor();
    const assembly = app.synth();
    expect(edge.dependencies.map(s => s.stackName)).toEqual(['App']);
    expect(data.dependencies).toEqual([]);
    const appTemplate = assembly.getStackByName('App').template;
    const edgeTemplate = assembly.getStackByName('Edge').template;
    expect(JSON.stringify(appTemplate)).not.toContain('Fn::ImportValue');
    // The front door's stack keeps no secret of its own (no HTTP API behind it); one per service in the app's.
    expect(frontDoor.originSecret).toBeUndefined();
    const types = (t: any) => Object.values(t.Resources).map((r: any) => r.Type);
    expect(types(edgeTemplate)).not.toContain('AWS::SecretsManager::Secret');
    const secrets = Object.entries(appTemplate.Resources).filter(([, r]: any) => r.Type === 'AWS::SecretsManager::Secret').map(([id]) => id).sort();
    expect(secrets).toEqual([expect.stringMatching(/^CanvasFrontDoorOriginSecret/), expect.stringMatching(/^ChatFrontDoorOriginSecret/)]);
    // Each listener rule checks its own service's secret, resolved in the app's stack...
    const rules = Object.values(appTemplate.Resources).filter((r: any) => r.Type === 'AWS::ElasticLoadBalancingV2::ListenerRule') as any[];
    const ruleSecrets = rules.map(r => JSON.stringify(r.Properties.Conditions[0].HttpHeaderConfig.Values[0]));
    expect(ruleSecrets.map(v => secrets.find(id => v.includes(`"Ref":"${id}"`)))).toEqual(expect.arrayContaining(secrets));
    // ...and the distribution sends the same secret to each, imported from the app's stack.
    const distribution = Object.values(edgeTemplate.Resources).find((r: any) => r.Type === 'AWS::CloudFront::Distribution') as any;
    const headers = distribution.Properties.DistributionConfig.Origins.filter((o: any) => o.OriginCustomHeaders)
      .map((o: any) => [o.DomainName, o.OriginCustomHeaders[0].HeaderValue]);
    expect(headers).toHaveLength(2);
    for (const [, value] of headers) {
      expect(value).toEqual({ 'Fn::Join': ['', ['{{resolve:secretsmanager:', { 'Fn::ImportValue': expect.stringMatching(/FrontDoorOriginSecret/) }, ':SecretString:::}}']] });
    }
    const byDomain = Object.fromEntries(headers.map(([domain, value]: any) => [JSON.stringify(domain), value['Fn::Join'][1][1]['Fn::ImportValue']]));
    expect(byDomain['"canvas-origin.example.com"']).toMatch(/CanvasFrontDoorOriginSecret/);
    expect(Object.entries(byDomain).find(([d]) => d.includes('ChatLoadBalancer'))?.[1]).toMatch(/ChatFrontDoorOriginSecret/);
    // The services admit only CloudFront's list, on their forwarding ports.
    const ingress = Object.values(appTemplate.Resources).filter((r: any) => r.Type === 'AWS::EC2::SecurityGroupIngress').map((r: any) => r.Properties);
    expect(ingress.filter((r: any) => r.CidrIp === '0.0.0.0/0')).toEqual([]);
    expect(ingress.filter((r: any) => r.SourcePrefixListId).map((r: any) => r.FromPort).sort()).toEqual([443, 80]);
  });

  test('a service\'s own secret, given as originSecret, is the one its listener checks and the distribution sends', () => {
    const app = new App();
    const data = new Stack(app, 'App', { env: { account: '111122223333', region: 'eu-west-1' } });
    const certificate = acm.Certificate.fromCertificateArn(data, 'OriginCert', 'arn:aws:acm:eu-west-1:111122223333:certificate/origin');
    const canvas = new RealtimeFargateService(data, 'Canvas', { image: testImage, certificate });
    const owned = new secretsmanager.Secret(data, 'OwnedSecret', { generateSecretString: { excludePunctuation: true } });
    const edge = new Stack(app, 'Edge', { env: { account: '111122223333', region: 'eu-west-1' } });
    const origin = FrontDoorOrigin.service(canvas, { originDomainName: 'canvas-origin.example.com', originSecret: owned });
    const frontDoor = new CdnFrontDoor(edge, 'FrontDoor', { site, realtime: [{ origin }], api: [{ pathPattern: '/api/*', origin }] });
    const assembly = app.synth();
    expect(edge.dependencies.map(st => st.stackName)).toEqual(['App']);
    expect(data.dependencies).toEqual([]);
    const appTemplate = assembly.getStackByName('App').template;
    const secrets = Object.entries(appTemplate.Resources).filter(([, r]: any) => r.Type === 'AWS::SecretsManager::Secret').map(([id]) => id);
    expect(secrets).toEqual([expect.stringMatching(/^OwnedSecret/)]);
    const rule = Object.values(appTemplate.Resources).find((r: any) => r.Type === 'AWS::ElasticLoadBalancingV2::ListenerRule') as any;
    expect(JSON.stringify(rule.Properties.Conditions[0].HttpHeaderConfig.Values[0])).toContain(`"Ref":"${secrets[0]}"`);
    const distribution = Object.values(assembly.getStackByName('Edge').template.Resources).find((r: any) => r.Type === 'AWS::CloudFront::Distribution') as any;
    const headerValues = distribution.Properties.DistributionConfig.Origins.filter((o: any) => o.OriginCustomHeaders)
      .map((o: any) => JSON.stringify(o.OriginCustomHeaders[0].HeaderValue));
    expect(headerValues).toHaveLength(1);
    expect(headerValues[0]).toMatch(/Fn::ImportValue.*OwnedSecret/);
    expect(frontDoor.originSecret).toBeUndefined();
    // A route that would send another value than the listener checks is refused.
    const other = new secretsmanager.Secret(data, 'OtherSecret');
    const conflicting = FrontDoorOrigin.service(canvas, { originDomainName: 'canvas-origin.example.com', originSecret: other });
    expect(() => frontDoor.addCachedRoute({ pathPattern: '/board', origin: conflicting }))
      .toThrow("Edge/FrontDoor: originSecret of a route to App/Canvas 'App/OtherSecret' differs from the secret App/OwnedSecret that an earlier route to the service sends, "
        + 'and its listener checks one value only; give the same originSecret on every route to the service, or none');
  });

  test('the secret made beside a service is nag-clean', () => {
    const { data, buildFrontDoor } = internetFacingSplit('eu-west-1', 'eu-west-1');
    buildFrontDoor();
    const secret = data.node.findChild('Canvas').node.findChild('FrontDoorOriginSecret');
    expect(nagFindings(data).filter(f => f.resources.some(r => r.startsWith(secret.node.path)))).toEqual([]);
  });

  // Across regions aws-cdk-lib passes the secret's ARN through an SSM parameter that a
  // Custom::CrossRegionExportReader reads at deploy time, and the secret stays in the service's region;
  // CloudFormation resolves secretsmanager dynamic references by name in the stack's own account and region
  // or by ARN for other accounts (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references-secretsmanager.html),
  // so the front door refuses the combination at synth rather than leave it to the deployment.
  test('front door in us-east-1, internet-facing service in eu-west-1 fails with the fix', () => {
    const { buildFrontDoor } = internetFacingSplit('us-east-1', 'eu-west-1');
    expect(buildFrontDoor).toThrow("Edge/FrontDoor: route to App/Canvas 'eu-west-1' is an internet-facing service in another region than the front door (us-east-1), "
      + 'and the secret origin header the distribution sends cannot be resolved from a secret of another region; create the front door in eu-west-1 '
      + '(a us-east-1 viewer certificate can reach it through crossRegionReferences), or make the service\'s load balancer internal (publicLoadBalancer: false), '
      + 'which CloudFront reaches through a VPC origin without a shared secret');
  });
});

describe('CdnFrontDoor: origins and routes added later', () => {
  test('origin: FrontDoorOrigin.service() and .httpApi() build the same distribution as the deprecated service and httpApi fields', () => {
    const configOf = (useOrigin: boolean) => {
      const { stack, vpc } = stackWithVpc();
      const svc = new RealtimeFargateService(stack, 'Canvas', { vpc, image: testImage, publicLoadBalancer: false });
      const api = new apigwv2.HttpApi(stack, 'Search');
      new CdnFrontDoor(stack, 'FrontDoor', useOrigin ? {
        site,
        realtime: [{ origin: FrontDoorOrigin.service(svc) }],
        cached: [{ pathPattern: '/api/board', origin: FrontDoorOrigin.service(svc) }],
        api: [{ pathPattern: '/api/*', origin: FrontDoorOrigin.service(svc) }, { pathPattern: '/search*', origin: FrontDoorOrigin.httpApi(api) }],
      } : {
        site,
        realtime: [{ service: svc }],
        cached: [{ pathPattern: '/api/board', service: svc }],
        api: [{ pathPattern: '/api/*', service: svc }, { pathPattern: '/search*', httpApi: api }],
      });
      return Template.fromStack(stack).toJSON();
    };
    expect(configOf(true)).toEqual(configOf(false));
  });

  test('addRealtimeRoute, addApiRoute and addCachedRoute add behaviours in call order, checked like props', () => {
    const { stack, vpc } = stackWithVpc();
    const svc = new RealtimeFargateService(stack, 'Canvas', { vpc, image: testImage, publicLoadBalancer: false });
    const frontDoor = new CdnFrontDoor(stack, 'FrontDoor', { site });
    frontDoor.addCachedRoute({ pathPattern: '/api/board', origin: FrontDoorOrigin.service(svc), ttl: Duration.seconds(3) });
    frontDoor.addRealtimeRoute({ origin: FrontDoorOrigin.service(svc) });
    frontDoor.addApiRoute({ pathPattern: '/api/*', origin: FrontDoorOrigin.service(svc) });
    const t = Template.fromStack(stack);
    const config = onlyResource(t, 'AWS::CloudFront::Distribution').props.DistributionConfig;
    expect(config.CacheBehaviors.map((b: any) => b.PathPattern)).toEqual(['/api/board', '/ws*', '/api/*']);
    expect(behaviour(t, '/ws*')).toEqual(expect.objectContaining({ CachePolicyId: CACHING_DISABLED, ViewerProtocolPolicy: 'https-only' }));
    expect(config.Origins).toHaveLength(2);
    expect(svc.isFronted).toBe(true);
    expect(() => frontDoor.addRealtimeRoute({ pathPattern: '/api/*', origin: FrontDoorOrigin.service(svc) }))
      .toThrow("Test/FrontDoor: pathPattern '/api/*' is routed twice; give each path pattern one route");
    expect(() => frontDoor.addApiRoute({ pathPattern: '/w*', origin: FrontDoorOrigin.service(svc) }))
      .toThrow(/^Test\/FrontDoor: api pathPattern '\/w\*' overlaps the realtime path '\/ws\*'/);
    // CloudFront takes the first matching behaviour in order, so a cached path after /api/* would never be cached.
    expect(() => frontDoor.addCachedRoute({ pathPattern: '/api/stats', origin: FrontDoorOrigin.service(svc) }))
      .toThrow("Test/FrontDoor: cached pathPattern '/api/stats' comes after the api path '/api/*', which CloudFront matches first, so it would never be cached; "
        + 'give it in cached (those come first) or call addCachedRoute before adding the api path');
    expect(nagFindings(stack)).toEqual([]);
  });

  test('an HTTP API added later still needs the origin check on every route', () => {
    const { stack } = stackWithVpc();
    const frontDoor = new CdnFrontDoor(stack, 'FrontDoor', { site });
    expect(frontDoor.originSecret).toBeUndefined();
    const api = new apigwv2.HttpApi(stack, 'Search');
    const fn = new lambda.Function(stack, 'Handler', { runtime: lambda.Runtime.NODEJS_24_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler=async()=>({})') });
    api.addRoutes({ path: '/search', methods: [apigwv2.HttpMethod.GET], integration: new integrations.HttpLambdaIntegration('Search', fn) });
    frontDoor.addApiRoute({ pathPattern: '/search*', origin: FrontDoorOrigin.httpApi(api) });
    expect(frontDoor.originSecret).toBeDefined();
    expect(synthError(stack)).toContain("Test/FrontDoor: route 'GET /search' of Test/Search answers on the API's own endpoint, around the distribution");
  });

  test('an existing load balancer is reached over HTTPS by name, with the front door\'s secret header', () => {
    const { stack, vpc } = stackWithVpc();
    const alb = new elbv2.ApplicationLoadBalancer(stack, 'Alb', { vpc, internetFacing: true });
    const frontDoor = new CdnFrontDoor(stack, 'FrontDoor', {
      site,
      api: [{ pathPattern: '/legacy/*', origin: FrontDoorOrigin.loadBalancer(alb, { originDomainName: 'legacy.example.com' }) }],
    });
    const t = Template.fromStack(stack);
    const origin = originOf(t, behaviour(t, '/legacy/*'));
    expect(origin.DomainName).toBe('legacy.example.com');
    expect(origin.CustomOriginConfig).toEqual(expect.objectContaining({ OriginProtocolPolicy: 'https-only', OriginSSLProtocols: ['TLSv1.2'] }));
    expect(origin.OriginCustomHeaders).toEqual([{ HeaderName: 'X-Origin-Verify', HeaderValue: SECRET_REF }]);
    expect(frontDoor.originSecret).toBeDefined();
  });

  test('an existing load balancer without a name, or over HTTP without insecureHttpToOrigin, fails with the fix', () => {
    const setup = (options: Parameters<typeof FrontDoorOrigin.loadBalancer>[1], insecureHttpToOrigin?: boolean) => () => {
      const { stack, vpc } = stackWithVpc();
      const alb = new elbv2.ApplicationLoadBalancer(stack, 'Alb', { vpc, internetFacing: true });
      new CdnFrontDoor(stack, 'FrontDoor', { site, api: [{ pathPattern: '/legacy/*', origin: FrontDoorOrigin.loadBalancer(alb, options) }], insecureHttpToOrigin });
    };
    expect(setup({})).toThrow(/^Test\/FrontDoor: originDomainName for Test\/Alb undefined is required because CloudFront reaches the load balancer over HTTPS/);
    expect(setup({ protocolPolicy: cloudfront.OriginProtocolPolicy.HTTP_ONLY }))
      .toThrow("Test/FrontDoor: protocolPolicy for Test/Alb 'http-only' would send the secret origin header across the internet in clear text; "
        + "use OriginProtocolPolicy.HTTPS_ONLY with an originDomainName on the listener's certificate, or set insecureHttpToOrigin: true for a development stack");
    expect(setup({ protocolPolicy: cloudfront.OriginProtocolPolicy.HTTP_ONLY }, true)).not.toThrow();
  });

  test('a custom origin is used as it is, without the secret header', () => {
    const { stack } = stackWithVpc();
    new CdnFrontDoor(stack, 'FrontDoor', { site, api: [{ pathPattern: '/ext/*', origin: FrontDoorOrigin.custom(new origins.HttpOrigin('api.example.com')) }] });
    const t = Template.fromStack(stack);
    const origin = originOf(t, behaviour(t, '/ext/*'));
    expect(origin.DomainName).toBe('api.example.com');
    expect(origin.OriginCustomHeaders).toBeUndefined();
    t.resourceCountIs('AWS::SecretsManager::Secret', 0);
  });

  test('without a site the default behaviour answers 404 at the edge, and no site bucket is made', () => {
    const { stack, vpc } = stackWithVpc();
    const svc = new RealtimeFargateService(stack, 'Canvas', { vpc, image: testImage, publicLoadBalancer: false });
    const frontDoor = new CdnFrontDoor(stack, 'FrontDoor', { realtime: [{ origin: FrontDoorOrigin.service(svc) }] });
    expect(frontDoor.siteBucket).toBeUndefined();
    expect(frontDoor.siteDeployment).toBeUndefined();
    const t = Template.fromStack(stack);
    const config = onlyResource(t, 'AWS::CloudFront::Distribution').props.DistributionConfig;
    expect(config.DefaultRootObject).toBeUndefined();
    expect(config.DefaultCacheBehavior).toEqual(expect.objectContaining({
      CachePolicyId: CACHING_DISABLED,
      TargetOriginId: behaviour(t, '/ws*').TargetOriginId,
      FunctionAssociations: [{ EventType: 'viewer-request', FunctionARN: { 'Fn::GetAtt': [expect.stringMatching(/FrontDoorNotFound/), 'FunctionARN'] } }],
    }));
    t.resourceCountIs('Custom::CDKBucketDeployment', 0);
    expect(Object.keys(t.findResources('AWS::S3::Bucket')).filter(id => id.startsWith('FrontDoorSiteBucket'))).toEqual([]);
    // The function's own code, on CloudFront's viewer-request event shape: a response, not the request.
    const handler = new Function(`${NOT_FOUND_SOURCE}; return handler;`)();
    expect(handler({ request: { uri: '/anything', headers: {} } })).toEqual({ statusCode: 404, statusDescription: 'Not Found' });
    expect(onlyResource(t, 'AWS::CloudFront::Function').props.FunctionConfig.Runtime).toBe('cloudfront-js-2.0');
    expect(nagFindings(stack)).toEqual([]);
    expect(controlFindings(stack, 'Test/FrontDoor')).toEqual([]);
  });

  test('without a site and without routes the front door fails with the fix', () => {
    const { stack } = stackWithVpc();
    expect(() => new CdnFrontDoor(stack, 'FrontDoor', {})).toThrow('Test/FrontDoor: site undefined is not given and no route is, so the distribution would have no origin; '
      + 'give a site, or at least one of realtime, api and cached (more can be added with addRealtimeRoute, addApiRoute and addCachedRoute)');
  });
});
