/**
 * The main job: synthesize every example app under examples/ into cdk.out/examples/<name>, with cdk-nag's
 * AwsSolutions pack, AWS Control Tower's proactive controls and the CloudFormation specification check
 * applied, and print a table per stack. Exits 1 when a stack fails to synthesize, has an unacknowledged nag
 * or Control Tower finding, or an invalid resource.
 *
 *   npm run examples              all examples
 *   npm run examples -- canvas    only the named ones
 *   npm run examples -- --cost    also each stack's idle-cost lines (730 h, no traffic, us-east-1 on-demand)
 *   npm run examples -- -c profile=lean    synthesize with a context value
 */
import * as path from 'path';
import { exampleNames, StackResult, synthesizeExample } from './lib/examples';
import { formatCostLines, parseExampleArgs } from './lib/idle-cost-report';
import { formatTable } from './lib/table';

const { names: wanted, showCost, context } = parseExampleArgs(process.argv.slice(2));
const names = exampleNames().filter(name => wanted.length === 0 || wanted.includes(name));
const unknown = wanted.filter(name => !exampleNames().includes(name));
if (unknown.length > 0) {
  console.error(`No example named ${unknown.join(', ')}; examples are: ${exampleNames().join(', ')}`);
  process.exit(1);
}

let failed = false;
for (const name of names) {
  const outdir = path.join('cdk.out', 'examples', name);
  const started = Date.now();
  let results: StackResult[];
  try {
    results = synthesizeExample(name, outdir, context);
  } catch (err) {
    failed = true;
    console.error(`\n✘ examples/${name} failed to synthesize:\n  ${(err as Error).message.split('\n').join('\n  ')}`);
    continue;
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`\nexamples/${name} → ${outdir} (${seconds}s)`);
  console.log(formatTable(results.map(r => ({
    'stack': r.stackName,
    'resources': r.resources,
    'nag errors': r.nag.filter(f => f.level === 'error').length,
    'nag warnings': r.nag.filter(f => f.level === 'warning').length,
    'Control Tower': r.controls.reduce((n, f) => n + f.resources.length, 0),
    'spec problems': r.spec.length,
    'template KiB': Number((r.templateBytes / 1024).toFixed(1)),
    'idle $/month': Number(r.cost.total.toFixed(2)),
    'unpriced': r.cost.unpriced.length,
  }))));
  for (const r of results) {
    if (showCost) {
      console.log(`\n  ${r.stackName}: idle cost $${r.cost.total.toFixed(2)}/month\n${formatCostLines(r.cost)}`);
    }
    for (const line of r.cost.unpriced) {
      console.log(`  ! ${r.stackName}: ${line.logicalId} (${line.type}) is not priced: ${line.note}`);
    }
  }
  for (const r of results) {
    for (const f of r.nag) {
      failed = true;
      console.error(`  ✘ ${r.stackName}: ${f.rule} (${f.level}) on ${f.resources.join(', ')}: ${f.description}`);
    }
    for (const f of r.controls) {
      failed = true;
      for (const resource of f.resources) {
        console.error(`  ✘ ${r.stackName}: ${f.control} ${f.rule} on ${resource.constructPath} (${resource.logicalId}): ${f.description}`);
      }
    }
    for (const p of r.spec) {
      failed = true;
      console.error(`  ✘ ${r.stackName}: ${p.constructPath}: ${p.message}`);
    }
  }
}
if (failed) {
  console.error('\nSome example stacks failed; see the messages above.');
  process.exit(1);
}
console.log(`\nAll ${names.length} example app(s) synthesized, clean under cdk-nag and Control Tower, and valid against the CloudFormation specification.`);
