import { IntegTest } from '@aws-cdk/integ-tests-alpha';
import { App } from 'aws-cdk-lib';
import { QuizStack } from '../examples/quiz/app';

// The quiz example as deployed: bus, tables, token secret, service and front door in one stack.
const app = new App();
const stack = new QuizStack(app, 'QuizInteg', { env: { region: 'us-east-1' } });
// The integ test destroys what it deploys; the example keeps deletion protection on.
stack.service.loadBalancer.setAttribute('deletion_protection.enabled', 'false');
new IntegTest(app, 'Quiz', { testCases: [stack] });
