import { IntegTest } from '@aws-cdk/integ-tests-alpha';
import { App, Duration, Stack } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { RealtimeFargateService } from '../src';

// A development-mode service with scale-to-zero and a longer drain window; nginx-unprivileged runs as its
// own non-root user on 8080. Deletion protection is off so the integ test can destroy what it deploys.
const app = new App();
const stack = new Stack(app, 'RealtimeServiceInteg', { env: { region: 'us-east-1' } });
new RealtimeFargateService(stack, 'Service', {
  image: ecs.ContainerImage.fromRegistry('public.ecr.aws/nginx/nginx-unprivileged:stable-alpine'),
  user: '101',
  insecureHttp: true,
  containerPort: 8080,
  deletionProtection: false,
  healthCheckPath: '/',
  readonlyRootFilesystem: false,
  drainTimeout: Duration.seconds(60),
  scaling: { minCapacity: 0 },
  scaleToZero: { idlePeriod: Duration.minutes(30) },
});
new IntegTest(app, 'RealtimeFargateService', { testCases: [stack] });
