import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { LoadBalancerOriginOptions, ServiceOriginOptions } from './routes';
import { RealtimeFargateService } from '../realtime-service/realtime-fargate-service';

/** What a `FrontDoorOrigin` points at; read by the front door only. */
export interface FrontDoorOriginTarget {
  readonly service?: RealtimeFargateService;
  readonly originDomainName?: string;
  readonly originSecret?: secretsmanager.ISecret;
  readonly httpApi?: apigwv2.IHttpApi;
  readonly loadBalancer?: elbv2.IApplicationLoadBalancer;
  readonly protocolPolicy?: cloudfront.OriginProtocolPolicy;
  readonly custom?: cloudfront.IOrigin;
}

/**
 * Where a route of a `CdnFrontDoor` goes: a RealtimeFargateService, an existing Application Load Balancer,
 * an API Gateway HTTP API, or any CloudFront origin.
 *
 * - `service()`: the front door closes the service's load balancer to everything but the distribution
 *   (a VPC origin for an internal one; CloudFront's prefix list and a secret header for an
 *   internet-facing one).
 * - `httpApi()`: HTTPS to the API's `$default` stage with the secret header, which every route of the
 *   API must check with `CdnFrontDoor.originCheckAuthorizer()`.
 * - `loadBalancer()`: HTTPS to a load balancer the front door did not create, with the secret header
 *   `originHeaderName` = `originSecret`; the front door cannot change that load balancer, so check the
 *   header in a listener rule and admit only CloudFront's origin-facing prefix list yourself (or put an
 *   internal load balancer behind `custom(origins.VpcOrigin.withApplicationLoadBalancer(alb))`).
 * - `custom()`: any `cloudfront.IOrigin`, used as it is; its protection is yours.
 *
 * @example
 * declare const canvas: RealtimeFargateService;
 * declare const frontDoor: CdnFrontDoor;
 * frontDoor.addRealtimeRoute({ origin: FrontDoorOrigin.service(canvas) });
 */
export class FrontDoorOrigin {
  /** A RealtimeFargateService, closed to everything but the distribution. */
  public static service(service: RealtimeFargateService, options: ServiceOriginOptions = {}): FrontDoorOrigin {
    return new FrontDoorOrigin({ service, originDomainName: options.originDomainName, originSecret: options.originSecret });
  }

  /**
   * An existing Application Load Balancer, reached over HTTPS (by default) with the secret origin header.
   * The front door does not change it: admit only CloudFront's origin-facing prefix list and forward only
   * requests carrying `CdnFrontDoor.originHeaderName` with the value of `CdnFrontDoor.originSecret`.
   */
  public static loadBalancer(loadBalancer: elbv2.IApplicationLoadBalancer, options: LoadBalancerOriginOptions = {}): FrontDoorOrigin {
    return new FrontDoorOrigin({
      loadBalancer,
      originDomainName: options.originDomainName,
      protocolPolicy: options.protocolPolicy ?? cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
    });
  }

  /**
   * An API Gateway HTTP API (its `$default` stage) in the front door's stack. Every route of the API must
   * use `CdnFrontDoor.originCheckAuthorizer()`; synthesis fails while one does not.
   */
  public static httpApi(api: apigwv2.IHttpApi): FrontDoorOrigin {
    return new FrontDoorOrigin({ httpApi: api });
  }

  /** Any CloudFront origin, used unchanged: the front door neither adds a header to it nor protects it. */
  public static custom(origin: cloudfront.IOrigin): FrontDoorOrigin {
    return new FrontDoorOrigin({ custom: origin });
  }

  /** @internal */
  public readonly _target: FrontDoorOriginTarget;

  private constructor(target: FrontDoorOriginTarget) {
    this._target = target;
  }
}
