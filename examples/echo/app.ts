import * as path from 'path';
import { App, Stack, StackProps } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import { Construct } from 'constructs';
import { RealtimeFargateService, RedisPubSubBus } from '../../src';
import { exampleApp, exampleEnv } from '../shared/example-app';
import { EXAMPLE_LOG_RETENTION, exampleKey } from '../shared/logs';
import { exampleVpc } from '../shared/network';
import { exampleProfile } from '../shared/profile';
import { serverImage } from '../shared/server-image';

/**
 * The smallest realtime system: a WebSocket echo server on Fargate whose messages reach every client of
 * every task through a Valkey bus. With `-c certificateArn=...` it serves HTTPS; without, plain HTTP for
 * development. `-c profile=lean` trades availability for price (see examples/shared/profile.ts).
 */
export class EchoStack extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const profile = exampleProfile(this);
    const vpc = exampleVpc(this);
    const bus = new RedisPubSubBus(this, 'Bus', { vpc, mode: profile.busMode, logRetention: EXAMPLE_LOG_RETENTION, logEncryptionKey: exampleKey(this) });
    const certificateArn: string | undefined = this.node.tryGetContext('certificateArn');
    new RealtimeFargateService(this, 'Echo', {
      vpc,
      assignPublicIp: profile.assignPublicIp,
      scaling: profile.scaling,
      logRetention: EXAMPLE_LOG_RETENTION,
      logEncryptionKey: exampleKey(this),
      image: serverImage(path.join(__dirname, 'server')),
      bus,
      certificate: certificateArn ? acm.Certificate.fromCertificateArn(this, 'Certificate', certificateArn) : undefined,
      insecureHttp: certificateArn ? undefined : true,
    });
  }
}

/** Adds the example's stacks to an app. */
export function createStacks(app: App): Stack[] {
  return [new EchoStack(app, 'RealtimeEcho', { env: exampleEnv() })];
}

if (require.main === module) {
  const app = exampleApp();
  createStacks(app);
  app.synth();
}
