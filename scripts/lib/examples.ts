import * as fs from 'fs';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import { SpecProblem, validateTemplate } from './cfn-spec';
import { estimateIdleCost, IdleEstimate } from './idle-cost';
import { ControlFinding, controlTowerFindings } from '../../examples/shared/control-tower';
import { NagFinding, nagFindings, stacksOf } from '../../examples/shared/nag';

export const EXAMPLES_DIR = path.join(__dirname, '..', '..', 'examples');

/** What synthesizing one example stack produced. */
export interface StackResult {
  readonly example: string;
  readonly stackName: string;
  readonly resources: number;
  readonly templateBytes: number;
  readonly nag: NagFinding[];
  /** Unacknowledged findings of AWS Control Tower's proactive controls. */
  readonly controls: ControlFinding[];
  readonly spec: SpecProblem[];
  /** Idle monthly cost estimated from the template (730 h, no traffic, us-east-1 on-demand). */
  readonly cost: IdleEstimate;
  readonly template: any;
}

/** Example apps: every folder under examples/ with an app.ts. */
export function exampleNames(): string[] {
  return fs.readdirSync(EXAMPLES_DIR)
    .filter(name => fs.existsSync(path.join(EXAMPLES_DIR, name, 'app.ts')))
    .sort();
}

/**
 * Synthesizes one example app into `outdir`, runs cdk-nag's AwsSolutions pack over each stack, runs AWS
 * Control Tower's proactive controls over the synthesized templates (one cfn-guard run for the app) and
 * validates each template against the CloudFormation resource specifications and estimates each stack's idle
 * cost. `context` is passed to the app (e.g. a profile).
 */
export function synthesizeExample(example: string, outdir: string, context?: Record<string, string>): StackResult[] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createStacks } = require(path.join(EXAMPLES_DIR, example, 'app')) as { createStacks(app: App): Stack[] };
  const app = new App({ outdir, context });
  createStacks(app);
  const nagByStack = new Map(stacksOf(app).map(stack => [stack.stackName, nagFindings(stack)]));
  const assembly = app.synth();
  const artifacts = stacksOf(app).map(stack => assembly.getStackByName(stack.stackName));
  const controls = controlTowerFindings(artifacts.map(a => path.resolve(a.templateFullPath)));
  return artifacts.map(artifact => {
    const template = artifact.template;
    return {
      example,
      stackName: artifact.stackName,
      resources: Object.keys(template.Resources ?? {}).length,
      templateBytes: fs.statSync(path.join(outdir, artifact.templateFile)).size,
      nag: nagByStack.get(artifact.stackName) ?? [],
      controls: controls.filter(f => f.templatePath === path.resolve(artifact.templateFullPath)),
      spec: validateTemplate(template),
      cost: estimateIdleCost(template),
      template,
    };
  });
}
