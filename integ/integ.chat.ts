import { IntegTest } from '@aws-cdk/integ-tests-alpha';
import { App } from 'aws-cdk-lib';
import { ChatStack } from '../examples/chat/app';

// The chat example as deployed: every construct of the library in one stack.
const app = new App();
const stack = new ChatStack(app, 'ChatInteg', { env: { region: 'us-east-1' } });
new IntegTest(app, 'Chat', { testCases: [stack] });
