import * as path from 'path';
import { IntegTest } from '@aws-cdk/integ-tests-alpha';
import { App, Duration, Stack } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { CdnFrontDoor, FrontDoorSite, FrontDoorWebAcl, RealtimeFargateService } from '../src';

// A realtime service on an internal load balancer behind a front door with a static site, a cached
// path, an API path, a WebSocket path and a web ACL.
const app = new App();
const stack = new Stack(app, 'FrontDoorInteg', { env: { region: 'us-east-1' } });
const service = new RealtimeFargateService(stack, 'Service', {
  image: ecs.ContainerImage.fromRegistry('public.ecr.aws/docker/library/nginx:stable-alpine'),
  containerPort: 80,
  healthCheckPath: '/',
  readonlyRootFilesystem: false,
  publicLoadBalancer: false,
});
new CdnFrontDoor(stack, 'FrontDoor', {
  site: FrontDoorSite.fromDirectory(path.join(__dirname, 'front-door-site')),
  realtime: [{ service }],
  cached: [{ pathPattern: '/api/board', service, ttl: Duration.seconds(1) }],
  api: [{ pathPattern: '/api/*', service }],
  webAclArn: new FrontDoorWebAcl(stack, 'WebAcl').webAclArn,
});
new IntegTest(app, 'CdnFrontDoor', { testCases: [stack] });
