import * as path from 'path';
import { App, Duration, Stack, StackProps } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { QUESTION_SETS_TABLE_KEY, QUESTION_SETS_TTL_ATTRIBUTE, RESULTS_TABLE_KEY } from './server/tables';
import { CdnFrontDoor, FrontDoorSite, FrontDoorWebAcl, RealtimeFargateService, RedisPubSubBus } from '../../src';
import { acknowledge } from '../shared/acknowledge';
import { exampleApp, exampleEnv } from '../shared/example-app';
import { EXAMPLE_LOG_RETENTION, exampleKey } from '../shared/logs';
import { exampleVpc } from '../shared/network';
import { exampleProfile } from '../shared/profile';
import { serverImage } from '../shared/server-image';
import { exampleTable } from '../shared/table';

/**
 * The live quiz: quiz servers on RealtimeFargateService keep running quizzes in a Valkey bus (state with
 * expiry, the leaderboard as a sorted set, cross-server events), uploaded question sets in one DynamoDB
 * table (with TTL) and finished quizzes' results in another, written once by conditional puts from the
 * servers themselves. The sign-on tokens' key comes from Secrets Manager. One CdnFrontDoor serves `web/`
 * and passes `/api/*` and `/ws*` to the service's internal load balancer through a CloudFront VPC origin.
 * `-c profile=lean` trades availability for price (see examples/shared/profile.ts).
 */
export class QuizStack extends Stack {
  public readonly service: RealtimeFargateService;
  public readonly questionSets: dynamodb.Table;
  public readonly results: dynamodb.Table;
  public readonly frontDoor: CdnFrontDoor;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const profile = exampleProfile(this);
    const vpc = exampleVpc(this);
    const bus = new RedisPubSubBus(this, 'Bus', { vpc, mode: profile.busMode, logRetention: EXAMPLE_LOG_RETENTION, logEncryptionKey: exampleKey(this) });
    this.questionSets = exampleTable(this, 'QuestionSets', QUESTION_SETS_TABLE_KEY);
    // An upload whose quiz never finishes goes away by itself.
    const questionSetsTable = this.questionSets.node.defaultChild as dynamodb.CfnTable;
    questionSetsTable.timeToLiveSpecification = { attributeName: QUESTION_SETS_TTL_ATTRIBUTE, enabled: true };
    this.results = exampleTable(this, 'Results', RESULTS_TABLE_KEY);

    const tokenSecret = new secretsmanager.Secret(this, 'TokenSecret', {
      description: 'Signs the quiz sign-on tokens of hosts and participants',
      generateSecretString: { passwordLength: 48, excludePunctuation: true },
    });

    this.service = new RealtimeFargateService(this, 'Quiz', {
      vpc,
      image: serverImage(path.join(__dirname, 'server')),
      bus,
      assignPublicIp: profile.assignPublicIp,
      scaling: profile.scaling,
      publicLoadBalancer: false,
      drainTimeout: Duration.seconds(60),
      logRetention: EXAMPLE_LOG_RETENTION,
      logEncryptionKey: exampleKey(this),
      environment: {
        QUIZ_QUESTION_SETS_TABLE: this.questionSets.tableName,
        QUIZ_RESULTS_TABLE: this.results.tableName,
        // CloudFront and the load balancer each append to X-Forwarded-For.
        QUIZ_TRUSTED_PROXIES: '2',
      },
      secrets: { QUIZ_TOKEN_SECRET: ecs.Secret.fromSecretsManager(tokenSecret) },
    });
    this.questionSets.grantReadWriteData(this.service.taskDefinition.taskRole);
    this.results.grantReadWriteData(this.service.taskDefinition.taskRole);

    this.frontDoor = new CdnFrontDoor(this, 'FrontDoor', {
      site: FrontDoorSite.fromDirectory(path.join(__dirname, 'web')),
      realtime: [{ pathPattern: '/ws*', service: this.service }],
      api: [{ pathPattern: '/api/*', service: this.service }],
      webAclArn: profile.webAcl && this.region === 'us-east-1' ? new FrontDoorWebAcl(this, 'WebAcl').webAclArn : undefined,
      logRetention: EXAMPLE_LOG_RETENTION,
      logEncryptionKey: exampleKey(this),
    });

    acknowledge(this.service.taskDefinition, 'ECS2',
      'The QUIZ_* variables hold table names and the proxy count, none of them secret; the token-signing key and the bus credentials arrive from Secrets Manager as ECS secrets.');
    acknowledge(tokenSecret, 'SMG4',
      'Rotating the signing key would sign every host and participant out of running quizzes at once; the key never leaves the task and is replaced by redeploying with a new secret.');
  }
}

/** Adds the example's stacks to an app. */
export function createStacks(app: App): Stack[] {
  return [new QuizStack(app, 'RealtimeQuiz', { env: exampleEnv() })];
}

if (require.main === module) {
  const app = exampleApp();
  createStacks(app);
  app.synth();
}
