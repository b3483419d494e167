import { App, Environment, Validations } from 'aws-cdk-lib';
import { ControlTowerPlugin } from './control-tower';
import { AwsSolutionsPlugin } from './nag';

/**
 * The region examples synthesize for unless CDK_DEFAULT_REGION says otherwise. Stacks are region-bound
 * (ALB access logging needs the region) but account-agnostic, so synthesis needs no AWS credentials.
 */
export function exampleEnv(): Environment {
  return { region: process.env.CDK_DEFAULT_REGION ?? 'us-east-1' };
}

/**
 * An App that runs cdk-nag's AwsSolutions checks and AWS Control Tower's proactive controls on `cdk synth`
 * and fails on any unacknowledged finding.
 */
export function exampleApp(): App {
  const app = new App();
  Validations.of(app).addPlugins(new AwsSolutionsPlugin(app), new ControlTowerPlugin());
  return app;
}
