import { Annotations, SecretValue } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { Construct } from 'constructs';
import { OriginProtectionOptions } from './origin-protection';
import { cloudFrontPrefixListId } from '../private/cloudfront-prefix-list';
import { acknowledgeControl, acknowledgeNag } from '../private/nag';

/** Control Tower's CT.ELB.PR.1: an HTTP listener's default action must redirect to HTTPS. */
const HTTP_REDIRECT_RULE = 'alb_http_to_https_redirection_check';

/** What the exposure wires together; all of it belongs to one RealtimeFargateService. */
export interface LoadBalancerExposureProps {
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  /** Whether the load balancer is internet-facing (else internal). */
  readonly internetFacing: boolean;
  readonly securityGroup: ec2.ISecurityGroup;
  readonly targetGroup: elbv2.ApplicationTargetGroup;
  readonly certificate?: acm.ICertificate;
  /** The HTTPS listener's security policy; RECOMMENDED_TLS (TLS 1.2 and 1.3) when undefined. */
  readonly sslPolicy?: elbv2.SslPolicy;
  /** The service opted into plain HTTP for development. */
  readonly insecureHttp: boolean;
}

/**
 * How the load balancer of a RealtimeFargateService is reached: its listeners, the internet ingress it
 * starts with, and the origin protection a front door swaps in for that ingress. Kept apart from the
 * service's tasks and scaling because it changes for its own reasons (certificates, CloudFront).
 */
export class LoadBalancerExposure {
  /** The listener that forwards to the tasks: HTTPS on 443 with a certificate, else HTTP on 80. */
  public readonly listener: elbv2.ApplicationListener;
  /** The protocol of `listener`. */
  public readonly protocol: elbv2.ApplicationProtocol;
  /** The port of `listener`, the only one that reaches the tasks. */
  public readonly port: number;

  private readonly publicIngress: Construct;
  private frontDoor?: Construct;

  constructor(private readonly service: Construct, private readonly props: LoadBalancerExposureProps) {
    this.protocol = props.certificate ? elbv2.ApplicationProtocol.HTTPS : elbv2.ApplicationProtocol.HTTP;
    this.port = props.certificate ? 443 : 80;
    this.listener = this.createListeners(props.certificate);
    this.publicIngress = this.openToInternet();
  }

  /** The front door protecting the origin, once one does. */
  public get protectedBy(): Construct | undefined {
    return this.frontDoor;
  }

  /**
   * Replaces the internet ingress with CloudFront's origin-facing prefix list on the forwarding port only:
   * each reference to that list counts as its weight (55) against the 60 rules of a security group, so a
   * second port would exceed the quota. The list ID is the one of the service's own region.
   */
  public protect(options: OriginProtectionOptions): void {
    if (this.frontDoor) {
      throw new Error(`${this.service.node.path}: already protected by ${this.frontDoor.node.path}; a service can sit behind one front door only`);
    }
    if ((options.headerName === undefined) !== (options.headerValue === undefined)) {
      throw new Error(`${this.service.node.path}: addOriginProtection needs both headerName and headerValue, or neither`);
    }
    this.frontDoor = options.frontDoor;
    this.service.node.tryRemoveChild(this.publicIngress.node.id);
    const prefixListId = options.cloudFrontPrefixListId ?? cloudFrontPrefixListId(this.service, options.frontDoor.node.path);
    this.props.securityGroup.addIngressRule(ec2.Peer.prefixList(prefixListId), ec2.Port.tcp(this.port), `CloudFront to ${options.frontDoor.node.path}`);
    if (options.headerName !== undefined && options.headerValue !== undefined) {
      this.requireOriginHeader(options.headerName, options.headerValue);
    }
    this.acknowledgeFrontedHttpListener(options);
  }

  /**
   * A forwarding HTTP listener behind a front door cannot redirect to HTTPS (Control Tower CT.ELB.PR.1):
   * there is no HTTPS listener, and CloudFront, not the viewer, is its client.
   */
  private acknowledgeFrontedHttpListener(options: OriginProtectionOptions): void {
    if (this.protocol !== elbv2.ApplicationProtocol.HTTP) {
      return;
    }
    if (!this.props.internetFacing) {
      acknowledgeControl(this.listener, HTTP_REDIRECT_RULE,
        'This listener belongs to an internal load balancer that only CloudFront\'s VPC origin reaches; viewers connect to CloudFront over HTTPS, and there is no HTTPS listener here to redirect to.');
    } else if (options.headerName !== undefined) {
      acknowledgeControl(this.listener, HTTP_REDIRECT_RULE,
        `This internet-facing load balancer has no certificate, so ${options.frontDoor.node.path} reaches it over plain HTTP, a development setting (insecureHttpToOrigin); `
        + 'its security group admits only CloudFront\'s origin-facing addresses, the listener forwards only requests that carry the secret origin header, and there is no HTTPS listener here to redirect to.');
    }
  }

  private createListeners(certificate: acm.ICertificate | undefined): elbv2.ApplicationListener {
    const loadBalancer = this.props.loadBalancer;
    if (!certificate) {
      const listener = loadBalancer.addListener('Http', {
        port: 80,
        protocol: elbv2.ApplicationProtocol.HTTP,
        open: false,
        defaultTargetGroups: [this.props.targetGroup],
      });
      if (this.props.insecureHttp) {
        acknowledgeControl(listener, HTTP_REDIRECT_RULE,
          'insecureHttp was set and no certificate was given, so there is no HTTPS listener to redirect to; this listener serves plain HTTP for development only.');
      }
      return listener;
    }
    loadBalancer.addListener('HttpRedirect', {
      port: 80,
      protocol: elbv2.ApplicationProtocol.HTTP,
      open: false,
      defaultAction: elbv2.ListenerAction.redirect({ protocol: 'HTTPS', port: '443', permanent: true }),
    });
    return loadBalancer.addListener('Https', {
      port: 443,
      protocol: elbv2.ApplicationProtocol.HTTPS,
      certificates: [certificate],
      sslPolicy: this.props.sslPolicy ?? elbv2.SslPolicy.RECOMMENDED_TLS,
      open: false,
      defaultTargetGroups: [this.props.targetGroup],
    });
  }

  /** Internet ingress lives in its own child so a front door can remove it whole. */
  private openToInternet(): Construct {
    const ingress = new Construct(this.service, 'PublicIngress');
    const ports = this.protocol === elbv2.ApplicationProtocol.HTTPS ? [80, 443] : [80];
    for (const port of ports) {
      new ec2.CfnSecurityGroupIngress(ingress, `Port${port}`, {
        groupId: this.props.securityGroup.securityGroupId,
        ipProtocol: 'tcp',
        fromPort: port,
        toPort: port,
        cidrIp: '0.0.0.0/0',
        description: `Internet to ${this.service.node.path} on ${port}`,
      });
    }
    acknowledgeNag(ingress, 'EC23',
      'Without a front door the load balancer is the public entry point of the realtime service, so its listener ports must accept any address; CdnFrontDoor removes these rules and admits only CloudFront.');
    return ingress;
  }

  private requireOriginHeader(name: string, value: SecretValue): void {
    this.listener.addAction('RejectWithoutOriginHeader', {
      action: elbv2.ListenerAction.fixedResponse(403, { contentType: 'text/plain', messageBody: 'Forbidden' }),
    });
    Annotations.of(this.listener).acknowledgeWarning('@aws-cdk/aws-elbv2:listenerExistingDefaultActionReplaced',
      'The front door replaces the forward action with a 403 so only requests carrying its secret header reach the tasks.');
    this.listener.addAction('FromFrontDoor', {
      priority: 1,
      // A dynamic reference, resolved by CloudFormation at deploy time; the template holds no value.
      conditions: [elbv2.ListenerCondition.httpHeader(name, [headerValueString(value)])],
      action: elbv2.ListenerAction.forward([this.props.targetGroup]),
    });
  }
}

/**
 * The header value for the listener condition. `headerValue` was a plain string before it became a
 * `SecretValue`; a caller without type checks (plain JavaScript) that still passes a string keeps working.
 */
function headerValueString(value: SecretValue): string {
  return typeof (value as unknown) === 'string' ? value as unknown as string : value.unsafeUnwrap();
}
