import { IntegTest } from '@aws-cdk/integ-tests-alpha';
import { App, Duration, Stack } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { RealtimeFargateService } from '../src';

// A development-mode service with scale-to-zero and a longer drain window.
const app = new App();
const stack = new Stack(app, 'RealtimeServiceInteg', { env: { region: 'us-east-1' } });
new RealtimeFargateService(stack, 'Service', {
  image: ecs.ContainerImage.fromRegistry('public.ecr.aws/docker/library/nginx:stable-alpine'),
  insecureHttp: true,
  containerPort: 80,
  healthCheckPath: '/',
  readonlyRootFilesystem: false,
  drainTimeout: Duration.seconds(60),
  scaleToZero: { idlePeriod: Duration.minutes(30) },
});
new IntegTest(app, 'RealtimeFargateService', { testCases: [stack] });
