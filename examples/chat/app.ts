import * as path from 'path';
import { App, Duration, Stack, StackProps } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { MESSAGES_TABLE_KEY, USERS_TABLE_KEY } from './server/tables';
import {
  CdnFrontDoor, FrontDoorSite, FrontDoorWebAcl, IndexFieldType, RealtimeFargateService, RedisPubSubBus, StreamIndexer,
} from '../../src';
import { acknowledge, acknowledgeControl } from '../shared/acknowledge';
import { exampleApp, exampleEnv } from '../shared/example-app';
import { EXAMPLE_LOG_RETENTION, exampleKey, exampleLogGroup } from '../shared/logs';
import { exampleVpc } from '../shared/network';
import { exampleProfile } from '../shared/profile';
import { serverImage } from '../shared/server-image';
import { exampleTable } from '../shared/table';

/**
 * Realtime chat with full-text search: the chat server on RealtimeFargateService keeps accounts in a
 * Users table and messages in a Messages table (partition `room`, time-ordered sort key) whose stream a
 * StreamIndexer writes to OpenSearch Serverless; presence, login throttling and room fan-out run on a
 * Valkey bus. One CdnFrontDoor serves `web/`, passes `/ws*` to the service's internal load balancer and
 * `/search*` to the search API, whose route admits only requests that came through the distribution.
 * `-c profile=lean` trades availability for price (see examples/shared/profile.ts): among others, one
 * OpenSearch node instead of a serverless collection.
 */
export class ChatStack extends Stack {
  public readonly service: RealtimeFargateService;
  public readonly users: dynamodb.Table;
  public readonly messages: dynamodb.Table;
  public readonly search: StreamIndexer;
  public readonly frontDoor: CdnFrontDoor;
  /** Where the search index's alarms (records it could not index, indexing lag) go: subscribe to it. */
  public readonly alarmTopic: sns.Topic;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const profile = exampleProfile(this);
    const vpc = exampleVpc(this);
    const bus = new RedisPubSubBus(this, 'Bus', { vpc, mode: profile.busMode, logRetention: EXAMPLE_LOG_RETENTION, logEncryptionKey: exampleKey(this) });
    this.users = exampleTable(this, 'Users', USERS_TABLE_KEY);
    this.messages = exampleTable(this, 'Messages', MESSAGES_TABLE_KEY, dynamodb.StreamViewType.NEW_IMAGE);

    const sessionSecret = new secretsmanager.Secret(this, 'SessionSecret', {
      description: 'Signs the chat session tokens that let a page resume its login after a reconnect',
      generateSecretString: { passwordLength: 48, excludePunctuation: true },
    });

    this.service = new RealtimeFargateService(this, 'Chat', {
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
        CHAT_USERS_TABLE: this.users.tableName,
        CHAT_MESSAGES_TABLE: this.messages.tableName,
        CHAT_ROOMS: 'general,random,help,aws',
        // CloudFront and the load balancer each append to X-Forwarded-For: per-address log-in limits count the entry CloudFront added.
        CHAT_TRUSTED_PROXIES: '2',
      },
      secrets: { CHAT_SESSION_SECRET: ecs.Secret.fromSecretsManager(sessionSecret) },
    });
    this.users.grantReadWriteData(this.service.taskDefinition.taskRole);
    this.messages.grantReadWriteData(this.service.taskDefinition.taskRole);

    // The API exists first so the front door can route to it and then guard its route.
    const searchApi = this.searchApi();
    this.frontDoor = new CdnFrontDoor(this, 'FrontDoor', {
      site: FrontDoorSite.fromDirectory(path.join(__dirname, 'web')),
      realtime: [{ pathPattern: '/ws*', service: this.service }],
      api: [{ pathPattern: '/search*', httpApi: searchApi }],
      webAclArn: profile.webAcl && this.region === 'us-east-1' ? new FrontDoorWebAcl(this, 'WebAcl').webAclArn : undefined,
      logRetention: EXAMPLE_LOG_RETENTION,
      logEncryptionKey: exampleKey(this),
    });
    this.alarmTopic = new sns.Topic(this, 'Alarms', {
      displayName: 'Chat alarms',
      masterKey: exampleKey(this),
      enforceSSL: true,
    });
    this.search = new StreamIndexer(this, 'Search', {
      table: this.messages,
      documentId: ['room', 'message'],
      fields: [
        { name: 'text', type: IndexFieldType.SEARCH_AS_YOU_TYPE },
        { name: 'room', type: IndexFieldType.KEYWORD, filterable: true },
        { name: 'username', type: IndexFieldType.KEYWORD },
        { name: 'message', type: IndexFieldType.KEYWORD },
        { name: 'time', type: IndexFieldType.DATE },
      ],
      indexName: 'chat-messages',
      target: profile.searchTarget,
      vpc,
      vpcSubnets: profile.privateSubnets,
      searchApi,
      searchAuthorizer: this.frontDoor.originCheckAuthorizer(),
      maxSearchResults: 50,
      alarmTopic: this.alarmTopic,
      logRetention: EXAMPLE_LOG_RETENTION,
      logEncryptionKey: exampleKey(this),
    });

    if (this.search.domain) {
      acknowledgeControl(this.search.domain, 'opensearch_data_node_fault_tolerance_check',
        'The lean profile keeps the search index on one data node to stay near the cost floor; the Messages table remains the source of truth, so a lost node is rebuilt by replaying the table.');
    }
    acknowledge(this.service.taskDefinition, 'ECS2',
      'The CHAT_* variables hold table names, the room list and the number of trusted proxies, none of them secret; the session-signing key and the bus credentials arrive from Secrets Manager as ECS secrets.');
    acknowledge(sessionSecret, 'SMG4',
      'Rotating the signing key would sign every user out at once; the key never leaves the task and is replaced by redeploying with a new secret.');
  }

  /** An HTTP API with a throttled, access-logged default stage; StreamIndexer adds `GET /search`. */
  private searchApi(): apigwv2.HttpApi {
    const api = new apigwv2.HttpApi(this, 'SearchApi', { description: 'Chat message search', createDefaultStage: false });
    api.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: 50, burstLimit: 100 },
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(exampleLogGroup(this, 'SearchApiAccessLogs')),
      },
    });
    return api;
  }

}

/** Adds the example's stacks to an app. */
export function createStacks(app: App): Stack[] {
  return [new ChatStack(app, 'RealtimeChat', { env: exampleEnv() })];
}

if (require.main === module) {
  const app = exampleApp();
  createStacks(app);
  app.synth();
}
