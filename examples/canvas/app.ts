import * as path from 'path';
import { App, Duration, Stack, StackProps } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { HISTORY_INDEX, PLACEMENTS_TABLE_KEY } from './server/table';
import { CdnFrontDoor, FrontDoorDomain, FrontDoorSite, FrontDoorWebAcl, RealtimeFargateService, RedisPubSubBus } from '../../src';
import { acknowledge } from '../shared/acknowledge';
import { exampleApp, exampleEnv } from '../shared/example-app';
import { EXAMPLE_LOG_RETENTION, exampleKey } from '../shared/logs';
import { exampleVpc } from '../shared/network';
import { exampleProfile } from '../shared/profile';
import { serverImage } from '../shared/server-image';
import { exampleTable } from '../shared/table';

/**
 * The shared pixel board: a Valkey bus for the board bitfield, cooldowns and update fan-out; DynamoDB for
 * the durable placement history (with a sequence index for the timelapse); the canvas server on
 * RealtimeFargateService behind one CdnFrontDoor, which serves `web/`, caches `/api/board` for a second
 * and complete `/api/history` pages for a day, and passes `/api/*` and `/ws` to the service's internal
 * load balancer through a CloudFront VPC origin. In us-east-1 a FrontDoorWebAcl rate-limits
 * each client address. `-c domainName=canvas.example.com -c certificateArn=arn:aws:acm:us-east-1:...`
 * (and `-c hostedZoneId=... -c zoneName=example.com` for the DNS records) serve it on a custom domain.
 * `-c profile=lean` trades availability for price (see examples/shared/profile.ts).
 */
export class CanvasStack extends Stack {
  public readonly service: RealtimeFargateService;
  public readonly placements: dynamodb.Table;
  public readonly frontDoor: CdnFrontDoor;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const profile = exampleProfile(this);
    const vpc = exampleVpc(this);
    const bus = new RedisPubSubBus(this, 'Bus', { vpc, mode: profile.busMode, logRetention: EXAMPLE_LOG_RETENTION, logEncryptionKey: exampleKey(this) });

    this.placements = exampleTable(this, 'Placements', PLACEMENTS_TABLE_KEY);
    const tokenSecret = new secretsmanager.Secret(this, 'TokenSecret', {
      description: 'Signs the canvas anonymous session tokens',
      generateSecretString: { passwordLength: 48, excludePunctuation: true },
    });

    this.service = new RealtimeFargateService(this, 'Canvas', {
      vpc,
      logRetention: EXAMPLE_LOG_RETENTION,
      logEncryptionKey: exampleKey(this),
      image: serverImage(path.join(__dirname, 'server')),
      bus,
      assignPublicIp: profile.assignPublicIp,
      scaling: profile.scaling,
      // Internal: only the front door's VPC origin reaches it.
      publicLoadBalancer: false,
      drainTimeout: Duration.seconds(60),
      environment: {
        CANVAS_TABLE: this.placements.tableName,
        CANVAS_WIDTH: '1000',
        CANVAS_HEIGHT: '1000',
        CANVAS_COOLDOWN_SECONDS: '300',
        // CloudFront and the load balancer each append to X-Forwarded-For.
        CANVAS_TRUSTED_PROXIES: '2',
      },
      secrets: { CANVAS_TOKEN_SECRET: ecs.Secret.fromSecretsManager(tokenSecret) },
    });
    this.frontDoor = new CdnFrontDoor(this, 'FrontDoor', {
      site: FrontDoorSite.fromDirectory(path.join(__dirname, 'web')),
      realtime: [{ pathPattern: '/ws*', service: this.service }],
      cached: [
        { pathPattern: '/api/board', service: this.service, ttl: Duration.seconds(1) },
        // A complete history page never changes (the server says so in Cache-Control); the newest for a second.
        { pathPattern: '/api/history', service: this.service, ttl: Duration.days(1), queryStrings: ['after', 'limit'] },
      ],
      api: [{ pathPattern: '/api/*', service: this.service }],
      domain: this.customDomain(),
      webAclArn: profile.webAcl && this.region === 'us-east-1' ? new FrontDoorWebAcl(this, 'WebAcl').webAclArn : undefined,
      logRetention: EXAMPLE_LOG_RETENTION,
      logEncryptionKey: exampleKey(this),
    });
    // The table's own grant would cover every index (`index/*`); the task queries exactly one.
    const taskRole = this.service.taskDefinition.taskRole;
    dynamodb.Table.fromTableArn(this, 'PlacementsData', this.placements.tableArn).grantReadWriteData(taskRole);
    taskRole.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['dynamodb:Query'],
      resources: [`${this.placements.tableArn}/index/${HISTORY_INDEX}`],
    }));

    acknowledge(this.service.taskDefinition, 'ECS2',
      'The CANVAS_* variables hold the board size, the cooldown and the table name, none of them secret; the token-signing key arrives from Secrets Manager as an ECS secret.');
    acknowledge(tokenSecret, 'SMG4',
      'Rotating the signing key would end every anonymous session at once and restart all cooldowns; the key never leaves the task and is replaced by redeploying with a new secret.');
  }

  private customDomain(): FrontDoorDomain | undefined {
    const domainName: string | undefined = this.node.tryGetContext('domainName');
    if (!domainName) {
      return undefined;
    }
    const hostedZoneId: string | undefined = this.node.tryGetContext('hostedZoneId');
    return {
      domainNames: [domainName],
      certificate: acm.Certificate.fromCertificateArn(this, 'Certificate', this.node.getContext('certificateArn')),
      hostedZone: hostedZoneId
        ? route53.HostedZone.fromHostedZoneAttributes(this, 'Zone', { hostedZoneId, zoneName: this.node.getContext('zoneName') })
        : undefined,
    };
  }
}

/** Adds the example's stacks to an app. */
export function createStacks(app: App): Stack[] {
  return [new CanvasStack(app, 'RealtimeCanvas', { env: exampleEnv() })];
}

if (require.main === module) {
  const app = exampleApp();
  createStacks(app);
  app.synth();
}
