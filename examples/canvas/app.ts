import * as path from 'path';
import { App, Duration, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { PLACEMENTS_TABLE_KEY } from './server/table';
import { RealtimeFargateService, RedisPubSubBus } from '../../src';
import { acknowledge } from '../shared/acknowledge';
import { exampleApp, exampleEnv } from '../shared/example-app';
import { exampleVpc } from '../shared/network';
import { serverImage } from '../shared/server-image';

/**
 * The shared pixel board: a Valkey bus for the board bitfield, cooldowns and update fan-out; DynamoDB for
 * the durable placement history; the canvas server on RealtimeFargateService. With
 * `-c certificateArn=...` it serves HTTPS; without, plain HTTP for development.
 */
export class CanvasStack extends Stack {
  public readonly service: RealtimeFargateService;
  public readonly placements: dynamodb.Table;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const vpc = exampleVpc(this);
    const bus = new RedisPubSubBus(this, 'Bus', { vpc });

    this.placements = new dynamodb.Table(this, 'Placements', {
      partitionKey: { name: PLACEMENTS_TABLE_KEY.partitionKey.name, type: dynamodb.AttributeType.NUMBER },
      sortKey: { name: PLACEMENTS_TABLE_KEY.sortKey!.name, type: dynamodb.AttributeType.NUMBER },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const tokenSecret = new secretsmanager.Secret(this, 'TokenSecret', {
      description: 'Signs the canvas anonymous session tokens',
      generateSecretString: { passwordLength: 48, excludePunctuation: true },
    });

    const certificateArn: string | undefined = this.node.tryGetContext('certificateArn');
    this.service = new RealtimeFargateService(this, 'Canvas', {
      vpc,
      image: serverImage(path.join(__dirname, 'server')),
      bus,
      certificate: certificateArn ? acm.Certificate.fromCertificateArn(this, 'Certificate', certificateArn) : undefined,
      insecureHttp: certificateArn ? undefined : true,
      drainTimeout: Duration.seconds(60),
      environment: {
        CANVAS_TABLE: this.placements.tableName,
        CANVAS_WIDTH: '1000',
        CANVAS_HEIGHT: '1000',
        CANVAS_COOLDOWN_SECONDS: '300',
      },
      secrets: { CANVAS_TOKEN_SECRET: ecs.Secret.fromSecretsManager(tokenSecret) },
    });
    this.placements.grantReadWriteData(this.service.taskDefinition.taskRole);

    acknowledge(this.service.taskDefinition, 'ECS2',
      'The CANVAS_* variables hold the board size, the cooldown and the table name, none of them secret; the token-signing key arrives from Secrets Manager as an ECS secret.');
    acknowledge(tokenSecret, 'SMG4',
      'Rotating the signing key would end every anonymous session at once and restart all cooldowns; the key never leaves the task and is replaced by redeploying with a new secret.');
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
