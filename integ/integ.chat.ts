import { IntegTest } from '@aws-cdk/integ-tests-alpha';
import { App } from 'aws-cdk-lib';
import { ChatStack } from '../examples/chat/app';

// The chat example as deployed: every construct of the library in one stack.
const app = new App();
const stack = new ChatStack(app, 'ChatInteg', { env: { region: 'us-east-1' } });
// The integ test destroys what it deploys; the example keeps deletion protection on.
stack.service.loadBalancer.setAttribute('deletion_protection.enabled', 'false');
new IntegTest(app, 'Chat', { testCases: [stack] });
