import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as authorizers from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { acknowledgeApiInvokePermissions } from '../private/lambda-permissions';
import { constructLogGroup } from '../private/log-group';
import { acknowledgeControl, acknowledgeNag } from '../private/nag';

/**
 * The authorizer's code, inline so the library ships no bundle: it reads the secret once per
 * container and compares the header in constant time. API Gateway answers 401 itself when the header
 * is missing (it is the identity source), and caches each verdict for `resultsCacheTtl`.
 */
export const ORIGIN_CHECK_SOURCE = `
const { SecretsManagerClient, GetSecretValueCommand } = require('@aws-sdk/client-secrets-manager');
const { createHash, timingSafeEqual } = require('crypto');
const client = new SecretsManagerClient({});
let expected;
const digest = value => createHash('sha256').update(String(value)).digest();
exports.handler = async event => {
  expected ??= client.send(new GetSecretValueCommand({ SecretId: process.env.ORIGIN_SECRET_ARN }))
    .then(out => digest(out.SecretString))
    .catch(err => { expected = undefined; throw err; });
  const header = (event.headers || {})[process.env.ORIGIN_HEADER];
  return { isAuthorized: typeof header === 'string' && timingSafeEqual(digest(header), await expected) };
};
`;

/**
 * Props of an `OriginCheckAuthorizer`.
 */
export interface OriginCheckAuthorizerProps {
  /** The header CloudFront sends. */
  readonly headerName: string;
  /** The secret holding its value. */
  readonly secret: secretsmanager.ISecret;
  /** How long the function's log group keeps its events. */
  readonly logRetention?: logs.RetentionDays;
  /** Encrypts the function's log group. */
  readonly logEncryptionKey?: kms.IKey;
  /** What `cdk destroy` does with the function's log group; DESTROY when unset. */
  readonly logRemovalPolicy?: RemovalPolicy;
}

/**
 * A Lambda authorizer for an HTTP API that admits only requests carrying a front door's secret origin
 * header, so the API's own `execute-api` endpoint refuses everything that did not come through
 * CloudFront. Made by `CdnFrontDoor.originCheckAuthorizer()`.
 */
export class OriginCheckAuthorizer extends Construct {
  /** The function that compares the header with the secret. */
  public readonly function: lambda.Function;
  private readonly headerName: string;
  private readonly byApi = new Map<string, authorizers.HttpLambdaAuthorizer>();
  private readonly perApi: apigwv2.IHttpRouteAuthorizer = { bind: options => this.bindToApi(options) };

  constructor(scope: Construct, id: string, props: OriginCheckAuthorizerProps) {
    super(scope, id);
    this.function = new lambda.Function(this, 'Function', {
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      handler: 'index.handler',
      code: lambda.Code.fromInline(ORIGIN_CHECK_SOURCE),
      memorySize: 128,
      timeout: Duration.seconds(5),
      description: `Admits only requests with the ${props.headerName} header of ${scope.node.path}`,
      environment: { ORIGIN_HEADER: props.headerName.toLowerCase(), ORIGIN_SECRET_ARN: props.secret.secretArn },
      logGroup: constructLogGroup(this, 'Logs', {
        retention: props.logRetention,
        encryptionKey: props.logEncryptionKey,
        removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.DESTROY,
      }),
    });
    props.secret.grantRead(this.function);
    this.headerName = props.headerName;
    if (this.function.role) {
      acknowledgeNag(this.function.role, 'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        'The origin-check function uses AWSLambdaBasicExecutionRole only to write its own logs.');
    }
    acknowledgeControl(this.function, 'lambda_inside_vpc_check',
      'The origin-check function calls only Secrets Manager, an AWS API, to read the header\'s value, and nothing inside a VPC; attaching it to one would add network interfaces and a route to Secrets Manager without narrowing what it reaches.');
  }

  /**
   * The authorizer to give routes: it binds one `HttpLambdaAuthorizer` per HTTP API (API Gateway ties an
   * authorizer to one API), however many routes of that API use it.
   */
  public get authorizer(): apigwv2.IHttpRouteAuthorizer {
    return this.perApi;
  }

  private bindToApi(options: apigwv2.HttpRouteAuthorizerBindOptions): apigwv2.HttpRouteAuthorizerConfig {
    const key = options.route.httpApi.node.path;
    const existing = this.byApi.get(key);
    if (existing) {
      return existing.bind(options);
    }
    const authorizer = new authorizers.HttpLambdaAuthorizer('OriginCheck', this.function, {
      identitySource: [`$request.header.${this.headerName}`],
      responseTypes: [authorizers.HttpLambdaResponseType.SIMPLE],
      resultsCacheTtl: Duration.minutes(5),
    });
    this.byApi.set(key, authorizer);
    const config = authorizer.bind(options);
    // The first bind to an API adds the permission for API Gateway to invoke the function.
    acknowledgeApiInvokePermissions(options.scope, this.function);
    return config;
  }
}
