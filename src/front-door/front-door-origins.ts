import { Duration, SecretValue, Stack, Token } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { FrontDoorOrigin } from './front-door-origin';
import { acknowledgeNag } from '../private/nag';
import { invalidProp } from '../private/validation';
import { RealtimeFargateService } from '../realtime-service/realtime-fargate-service';

/** What the origins of one front door share. */
export interface FrontDoorOriginsProps {
  /** The front door, for error messages and stack checks. */
  readonly frontDoor: Construct;
  /** The header that proves a request came through the distribution. */
  readonly headerName: string;
  /**
   * Its secret, created on first call, for HTTP APIs, load balancers and internet-facing services in the
   * front door's own stack. A service in another stack gets a secret of its own, in its stack.
   */
  readonly secret: () => secretsmanager.ISecret;
  /** Lets the secret header cross the internet in clear to a service without a certificate. */
  readonly insecureHttpToOrigin: boolean;
  /** The origin-facing prefix list ID the user gave for the services' region. */
  readonly cloudFrontPrefixListId?: string;
  /** Called once for each service CloudFront reaches over plain HTTP across the internet. */
  readonly onHttpToInternet: (service: RealtimeFargateService) => void;
}

/**
 * The origins of a front door, one per service and origin name and one per HTTP API, and the protection
 * that closes each service to everything but the distribution. Kept apart from the behaviours because
 * origins change with the services (VPC origins, certificates, stacks), behaviours with the paths.
 */
export class FrontDoorOrigins {
  private readonly serviceOrigins = new Map<RealtimeFargateService, Map<string, cloudfront.IOrigin>>();
  private readonly apiOrigins = new Map<string, cloudfront.IOrigin>();
  private readonly loadBalancerOrigins = new Map<string, cloudfront.IOrigin>();
  private readonly routedApis: apigwv2.IHttpApi[] = [];
  private readonly serviceSecrets = new Map<RealtimeFargateService, secretsmanager.ISecret>();

  constructor(private readonly props: FrontDoorOriginsProps) {}

  /** The services routed so far. */
  public get services(): RealtimeFargateService[] {
    return [...this.serviceOrigins.keys()];
  }

  /** The HTTP APIs routed so far. */
  public get httpApis(): apigwv2.IHttpApi[] {
    return [...this.routedApis];
  }

  /** The CloudFront origin of a route's target. */
  public resolve(origin: FrontDoorOrigin): cloudfront.IOrigin {
    const target = origin._target;
    if (target.service) {
      return this.forService(target.service, target.originDomainName, target.originSecret);
    }
    if (target.httpApi) {
      return this.forHttpApi(target.httpApi);
    }
    if (target.loadBalancer) {
      return this.forLoadBalancer(target.loadBalancer, target.originDomainName, target.protocolPolicy!);
    }
    return target.custom!;
  }

  /**
   * The origin of a service: a CloudFront VPC origin for an internal load balancer, else the load balancer
   * (or `originDomainName`) with the secret header. One per service and name, shared by its routes.
   */
  public forService(service: RealtimeFargateService, originDomainName: string | undefined,
    originSecret?: secretsmanager.ISecret): cloudfront.IOrigin {
    if (originSecret && service.internetFacing) {
      this.secretFor(service, originSecret);
    }
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
      const customHeaders = { [this.props.headerName]: this.secretFor(service).unsafeUnwrap() };
      origin = originDomainName
        ? new origins.HttpOrigin(originDomainName, { ...common, customHeaders })
        : new origins.LoadBalancerV2Origin(service.loadBalancer, { ...common, customHeaders });
    }
    perService.set(key, origin);
    if (perService.size === 1) {
      this.protect(service);
    }
    return origin;
  }

  /** An existing load balancer, with the secret header; one per load balancer and name. */
  private forLoadBalancer(loadBalancer: elbv2.IApplicationLoadBalancer, originDomainName: string | undefined,
    protocolPolicy: cloudfront.OriginProtocolPolicy): cloudfront.IOrigin {
    const frontDoor = this.props.frontDoor;
    if (protocolPolicy !== cloudfront.OriginProtocolPolicy.HTTP_ONLY && !originDomainName) {
      invalidProp(frontDoor, `originDomainName for ${loadBalancer.node.path}`, undefined,
        'is required because CloudFront reaches the load balancer over HTTPS and checks its certificate against the name it connects to',
        'give a name on the listener\'s certificate that resolves to the load balancer, or protocolPolicy HTTP_ONLY with insecureHttpToOrigin for a development stack');
    }
    if (protocolPolicy !== cloudfront.OriginProtocolPolicy.HTTPS_ONLY && !this.props.insecureHttpToOrigin) {
      invalidProp(frontDoor, `protocolPolicy for ${loadBalancer.node.path}`, protocolPolicy,
        'would send the secret origin header across the internet in clear text',
        'use OriginProtocolPolicy.HTTPS_ONLY with an originDomainName on the listener\'s certificate, or set insecureHttpToOrigin: true for a development stack');
    }
    const key = `${loadBalancer.node.path} ${originDomainName ?? ''}`;
    const existing = this.loadBalancerOrigins.get(key);
    if (existing) {
      return existing;
    }
    const options = {
      protocolPolicy,
      originSslProtocols: [cloudfront.OriginSslPolicy.TLS_V1_2],
      readTimeout: Duration.seconds(60),
      keepaliveTimeout: Duration.seconds(60),
      customHeaders: { [this.props.headerName]: this.frontDoorSecret().unsafeUnwrap() },
    };
    const origin = originDomainName ? new origins.HttpOrigin(originDomainName, options) : new origins.LoadBalancerV2Origin(loadBalancer, options);
    this.loadBalancerOrigins.set(key, origin);
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
      customHeaders: { [this.props.headerName]: this.frontDoorSecret().unsafeUnwrap() },
    });
    this.apiOrigins.set(api.apiId, origin);
    this.routedApis.push(api);
    return origin;
  }

  /** Closes a routed service's load balancer to everything but the distribution. */
  private protect(service: RealtimeFargateService): void {
    service.addOriginProtection({
      frontDoor: this.props.frontDoor,
      cloudFrontPrefixListId: this.props.cloudFrontPrefixListId,
      ...(service.internetFacing ? { headerName: this.props.headerName, headerValue: this.secretFor(service) } : {}),
    });
    if (service.internetFacing && service.listenerProtocol !== elbv2.ApplicationProtocol.HTTPS) {
      this.props.onHttpToInternet(service);
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
    const [serviceRegion, frontDoorRegion] = [Stack.of(service).region, Stack.of(frontDoor).region];
    if (!Token.isUnresolved(serviceRegion) && !Token.isUnresolved(frontDoorRegion) && serviceRegion !== frontDoorRegion) {
      // The header's value is a Secrets Manager dynamic reference in the distribution. Across regions
      // aws-cdk-lib hands the secret's ARN to the front door's stack as an attribute of its
      // Custom::CrossRegionExportReader (read from SSM at deploy time), and the secret itself lives in the
      // service's region; CloudFormation documents secretsmanager references by name (same account) or
      // ARN (other accounts), not to a secret of another region, so this is refused rather than left to fail
      // at deploy time.
      invalidProp(frontDoor, `route to ${service.node.path}`, serviceRegion,
        `is an internet-facing service in another region than the front door (${frontDoorRegion}), and the secret origin header the distribution sends cannot be resolved from a secret of another region`,
        `create the front door in ${serviceRegion} (a us-east-1 viewer certificate can reach it through crossRegionReferences), or make the service's load balancer internal (publicLoadBalancer: false), which CloudFront reaches through a VPC origin without a shared secret`);
    }
  }

  /**
   * The secret of a service's origin header, one per service (a service sits behind one front door): the
   * route's `originSecret` if one gave it, else kept in the service's stack so that only the front door's
   * stack refers to the service's, never the other way: the front door's own secret when they share a
   * stack, else one created beside the service.
   */
  private secretFor(service: RealtimeFargateService, given?: secretsmanager.ISecret): SecretValue {
    let secret = this.serviceSecrets.get(service);
    if (given && secret && secret !== given) {
      invalidProp(this.props.frontDoor, `originSecret of a route to ${service.node.path}`, given.node.path,
        `differs from the secret ${secret.node.path} that an earlier route to the service sends, and its listener checks one value only`,
        'give the same originSecret on every route to the service, or none');
    }
    if (!secret) {
      secret = given
        ?? (Stack.of(service) === Stack.of(this.props.frontDoor) ? this.props.secret() : createOriginHeaderSecret(service, 'FrontDoorOriginSecret',
          `Value of the ${this.props.headerName} header that ${this.props.frontDoor.node.path} sends to ${service.node.path}`));
      this.serviceSecrets.set(service, secret);
    }
    return secret.secretValue;
  }

  private frontDoorSecret(): SecretValue {
    return this.props.secret().secretValue;
  }
}

/** A generated secret for an origin header: letters and digits only, acknowledged for not rotating. */
export function createOriginHeaderSecret(scope: Construct, id: string, description: string): secretsmanager.Secret {
  const secret = new secretsmanager.Secret(scope, id, {
    description,
    // Header-condition values allow letters and digits safely, and up to 128 characters.
    generateSecretString: { passwordLength: 48, excludePunctuation: true, includeSpace: false },
  });
  acknowledgeNag(secret, 'SMG4',
    'The origin header value is resolved into the distribution and the listener rule at deploy time, so a rotation outside a deploy would lock CloudFront out; it is replaced by redeploying with a new secret.');
  return secret;
}
