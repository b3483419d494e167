import * as fs from 'fs';
import * as path from 'path';
import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import { IPolicyValidationContext, IPolicyValidationPlugin, PolicyValidationPluginReport, PolicyViolation } from 'aws-cdk-lib';

/** One resource a Control Tower finding names. */
export interface ControlResource {
  readonly logicalId: string;
  /** The construct path, from the cloud assembly's metadata (the logical ID when the assembly has none). */
  readonly constructPath: string;
}

/** A finding of AWS Control Tower's proactive controls that nobody acknowledged. */
export interface ControlFinding {
  /** The control, e.g. `CT.S3.PR.2`. */
  readonly control: string;
  /** The guard rule, e.g. `s3_bucket_logging_enabled_check`: what `acknowledgeControl` takes. */
  readonly rule: string;
  /** The absolute path of the template the resources are in. */
  readonly templatePath: string;
  readonly resources: ControlResource[];
  readonly description: string;
  readonly fix: string;
}

const PACKAGE_DIR = path.dirname(require.resolve('@cdklabs/cdk-validator-cfnguard/package.json'));
const RULES_DIR = path.join(PACKAGE_DIR, 'rules', 'control-tower', 'cfn-guard');
const METADATA_DIR = path.join(PACKAGE_DIR, 'rules', 'control-tower', 'metadata');

/**
 * Runs AWS Control Tower's proactive controls (the cfn-guard rules and binary that
 * `@cdklabs/cdk-validator-cfnguard` ships; offline) over synthesized templates and returns the findings
 * no `acknowledgeControl` covers.
 *
 * The plugin's `validate()` is called with the template paths, as the framework would. Two things are ours:
 * - Only the rules whose control reports on a resource type the templates contain are run (each control's
 *   metadata lists the types it reports on; the others can only skip). Same findings, 2–3× faster.
 * - The Control Tower rules ignore cfn-guard's `Metadata.guard.SuppressedRules` and the plugin has no
 *   per-resource suppression (cdklabs/cdk-validator-cfnguard#350), so a finding is dropped here when its
 *   resource lists the rule in `SuppressedRules` and gives a reason for it in `SuppressionReasons`.
 */
export function controlTowerFindings(templatePaths: string[]): ControlFinding[] {
  // cfn-guard may name a data file differently from how it was passed (relative or absolute): key by absolute path.
  const templates = new Map(templatePaths.map(p => [path.resolve(p), JSON.parse(fs.readFileSync(p, 'utf8'))]));
  const types = new Set([...templates.values()].flatMap(t => Object.values<any>(t.Resources ?? {}).map(r => r.Type)));
  const rules = controlRulesFor(types);
  if (rules.length === 0 || templatePaths.length === 0) {
    return [];
  }
  const validator = new CfnGuardValidator({ controlTowerRulesEnabled: false, rules, maxBuffer: 256 * 1024 * 1024 });
  const report = validator.validate({ templatePaths });
  const paths = new Map([...templates.keys()].map(p => [p, constructPaths(p)]));
  return report.violations.flatMap((v): ControlFinding[] => {
    const byTemplate = new Map<string, ControlResource[]>();
    for (const r of v.violatingResources) {
      const templatePath = path.resolve(r.templatePath);
      if (!templates.has(templatePath)) {
        throw new Error(`controlTowerFindings: cfn-guard reported ${r.templatePath}, which is none of the templates it was given`);
      }
      if (acknowledged(templates.get(templatePath).Resources?.[r.resourceLogicalId], v.ruleName)) {
        continue;
      }
      const list = byTemplate.get(templatePath) ?? [];
      list.push({ logicalId: r.resourceLogicalId, constructPath: paths.get(templatePath)?.get(r.resourceLogicalId) ?? r.resourceLogicalId });
      byTemplate.set(templatePath, list);
    }
    const [, control, description] = /^\[([^\]]+)\]:\s*(.*)$/s.exec(v.description) ?? [undefined, '?', v.description];
    return [...byTemplate].map(([templatePath, resources]) => ({
      control, rule: v.ruleName, templatePath, resources, description, fix: v.fix ?? '',
    }));
  });
}

/**
 * A validation plugin for `cdk synth`: runs Control Tower's proactive controls over the app's templates and
 * fails synthesis on any unacknowledged finding.
 */
export class ControlTowerPlugin implements IPolicyValidationPlugin {
  public readonly name = 'ControlTower';

  public validate(context: IPolicyValidationContext): PolicyValidationPluginReport {
    const violations = controlTowerFindings([...context.templatePaths]).map((f): PolicyViolation => ({
      ruleName: f.rule,
      description: `[${f.control}] ${f.description}`,
      fix: f.fix,
      violatingResources: f.resources.map(r => ({
        resourceLogicalId: r.logicalId, constructPath: r.constructPath, templatePath: f.templatePath, locations: [],
      })),
    }));
    return { success: violations.length === 0, violations };
  }
}

/** The rule files of the controls that report on at least one of `types`. */
function controlRulesFor(types: Set<string>): string[] {
  return fs.readdirSync(RULES_DIR).sort().flatMap(service => fs.readdirSync(path.join(RULES_DIR, service)).sort()
    .filter(file => file.endsWith('.guard'))
    .filter(file => {
      const metadata = path.join(METADATA_DIR, service, file.replace(/\.guard$/, '.metadata.json'));
      // A control without metadata cannot be narrowed: run it.
      const reports: string[] | undefined = fs.existsSync(metadata)
        ? JSON.parse(fs.readFileSync(metadata, 'utf8')).EvaluatedResourceTypes
        : undefined;
      return reports === undefined || reports.some(t => types.has(t));
    })
    .map(file => path.join(RULES_DIR, service, file)));
}

/** Whether a template resource acknowledges `rule` the way `acknowledgeControl` records it: listed, with a reason. */
function acknowledged(resource: any, rule: string): boolean {
  const guard = resource?.Metadata?.guard;
  const reason = guard?.SuppressionReasons?.[rule];
  return Array.isArray(guard?.SuppressedRules) && guard.SuppressedRules.includes(rule)
    && typeof reason === 'string' && reason.trim().length > 0;
}

/** Logical ID → construct path for one template, from the stack's metadata in the cloud assembly. */
function constructPaths(templatePath: string): Map<string, string> {
  const result = new Map<string, string>();
  const manifestPath = path.join(path.dirname(templatePath), 'manifest.json');
  if (!fs.existsSync(manifestPath)) {
    return result;
  }
  const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
  for (const artifact of Object.values<any>(manifest.artifacts ?? {})) {
    if (artifact.type !== 'aws:cloudformation:stack' || artifact.properties?.templateFile !== path.basename(templatePath)) {
      continue;
    }
    const metadata = artifact.additionalMetadataFile
      ? JSON.parse(fs.readFileSync(path.join(path.dirname(templatePath), artifact.additionalMetadataFile), 'utf8'))
      : artifact.metadata ?? {};
    for (const [constructPath, entries] of Object.entries<any[]>(metadata)) {
      for (const entry of entries) {
        if (entry.type === 'aws:cdk:logicalId') {
          result.set(entry.data, constructPath);
        }
      }
    }
  }
  return result;
}
