import { Duration, Stack } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { invalidProp } from '../private/validation';
import { RealtimeFargateService } from '../realtime-service/realtime-fargate-service';

/** What the origins of one front door share. */
export interface FrontDoorOriginsProps {
  /** The front door, for error messages and stack checks. */
  readonly frontDoor: Construct;
  /** The header that proves a request came through the distribution. */
  readonly headerName: string;
  /** Its secret value; needed for internet-facing services and HTTP APIs. */
  readonly secret?: secretsmanager.ISecret;
  /** Lets the secret header cross the internet in clear to a service without a certificate. */
  readonly insecureHttpToOrigin: boolean;
  /** The origin-facing prefix list ID the user gave for the services' region. */
  readonly cloudFrontPrefixListId?: string;
}

/**
 * The origins of a front door, one per service and origin name and one per HTTP API, and the protection
 * that closes each service to everything but the distribution. Kept apart from the behaviours because
 * origins change with the services (VPC origins, certificates, stacks), behaviours with the paths.
 */
export class FrontDoorOrigins {
  private readonly serviceOrigins = new Map<RealtimeFargateService, Map<string, cloudfront.IOrigin>>();
  private readonly apiOrigins = new Map<string, cloudfront.IOrigin>();

  constructor(private readonly props: FrontDoorOriginsProps) {}

  /** The services routed so far. */
  public get services(): RealtimeFargateService[] {
    return [...this.serviceOrigins.keys()];
  }

  /**
   * The origin of a service: a CloudFront VPC origin for an internal load balancer, else the load balancer
   * (or `originDomainName`) with the secret header. One per service and name, shared by its routes.
   */
  public forService(service: RealtimeFargateService, originDomainName: string | undefined): cloudfront.IOrigin {
    const https = service.listenerProtocol === elbv2.ApplicationProtocol.HTTPS;
    this.validateService(service, https, originDomainName);
    const key = originDomainName ?? '';
    const perService = this.serviceOrigins.get(service) ?? new Map<string, cloudfront.IOrigin>();
    this.serviceOrigins.set(service, perService);
    const existing = perService.get(key);
    if (existing) {
      return existing;
    }
    const common = {
      protocolPolicy: https ? cloudfront.OriginProtocolPolicy.HTTPS_ONLY : cloudfront.OriginProtocolPolicy.HTTP_ONLY,
      originSslProtocols: [cloudfront.OriginSslPolicy.TLS_V1_2],
      // Long polls and slow API answers; WebSockets are bounded by CloudFront's 10-minute idle limit instead.
      readTimeout: Duration.seconds(60),
      keepaliveTimeout: Duration.seconds(60),
    };
    let origin: cloudfront.IOrigin;
    if (!service.internetFacing) {
      origin = origins.VpcOrigin.withApplicationLoadBalancer(service.loadBalancer, { ...common, domainName: originDomainName });
    } else {
      const customHeaders = { [this.props.headerName]: this.secretValue() };
      origin = originDomainName
        ? new origins.HttpOrigin(originDomainName, { ...common, customHeaders })
        : new origins.LoadBalancerV2Origin(service.loadBalancer, { ...common, customHeaders });
    }
    perService.set(key, origin);
    return origin;
  }

  /** The origin of an HTTP API's `$default` stage, with the secret header. One per API. */
  public forHttpApi(api: apigwv2.IHttpApi): cloudfront.IOrigin {
    if (Stack.of(api) !== Stack.of(this.props.frontDoor)) {
      invalidProp(this.props.frontDoor, 'api httpApi', api.node.path,
        `is in stack ${Stack.of(api).stackName}, but its routes need this front door's origin check and the front door needs the API's endpoint, so the two stacks would refer to each other`,
        `create the HTTP API in the front door's stack (${Stack.of(this.props.frontDoor).stackName})`);
    }
    const existing = this.apiOrigins.get(api.apiId);
    if (existing) {
      return existing;
    }
    const origin = new origins.HttpOrigin(`${api.apiId}.execute-api.${Stack.of(api).region}.${Stack.of(api).urlSuffix}`, {
      protocolPolicy: cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
      originSslProtocols: [cloudfront.OriginSslPolicy.TLS_V1_2],
      customHeaders: { [this.props.headerName]: this.secretValue() },
    });
    this.apiOrigins.set(api.apiId, origin);
    return origin;
  }

  /** Closes each routed service's load balancer to everything but the distribution. */
  public protectServices(): void {
    for (const service of this.services) {
      service.addOriginProtection({
        frontDoor: this.props.frontDoor,
        cloudFrontPrefixListId: this.props.cloudFrontPrefixListId,
        ...(service.internetFacing ? { headerName: this.props.headerName, headerValue: this.secretValue() } : {}),
      });
    }
  }

  private validateService(service: RealtimeFargateService, https: boolean, originDomainName: string | undefined): void {
    const frontDoor = this.props.frontDoor;
    if (https && !originDomainName) {
      invalidProp(frontDoor, `originDomainName for ${service.node.path}`, undefined,
        'is required because the service serves HTTPS and CloudFront checks the origin certificate against the name it connects to',
        'give a name on the service\'s certificate that resolves to its load balancer');
    }
    if (!service.internetFacing) {
      return;
    }
    if (!https && !this.props.insecureHttpToOrigin) {
      invalidProp(frontDoor, `route to ${service.node.path}`, 'HTTP',
        'would send the secret origin header across the internet in clear text, because the service\'s internet-facing load balancer has no certificate',
        'give the service a certificate (and the route an originDomainName), make its load balancer internal (publicLoadBalancer: false) so CloudFront reaches it through a VPC origin, or set insecureHttpToOrigin: true for a development stack');
    }
    if (Stack.of(service) !== Stack.of(frontDoor)) {
      invalidProp(frontDoor, `route to ${service.node.path}`, Stack.of(service).stackName,
        'is another stack, and an internet-facing service checks this front door\'s secret header while the front door needs the service\'s address, so the stacks would refer to each other',
        'make the service\'s load balancer internal (publicLoadBalancer: false), which CloudFront reaches through a VPC origin without a shared secret, or create the front door in the service\'s stack');
    }
  }

  private secretValue(): string {
    if (!this.props.secret) {
      throw new Error(`${this.props.frontDoor.node.path}: no origin secret was created; this is a bug in cdk-realtime`);
    }
    return this.props.secret.secretValue.unsafeUnwrap();
  }
}
