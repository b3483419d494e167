import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { controlTowerFindings } from '../examples/shared/control-tower';
import { exampleNames, StackResult, synthesizeExample } from '../scripts/lib/examples';
import { ACKNOWLEDGED_CONTROLS_METADATA_KEY, acknowledgeControl } from '../src/private/nag';

/** Asset hashes change with every server edit; the snapshot is about the infrastructure. */
function normalized(template: unknown): unknown {
  return JSON.parse(JSON.stringify(template).replace(/[0-9a-f]{64}/g, '<asset-hash>'));
}

describe.each(exampleNames())('examples/%s', example => {
  let results: StackResult[];
  beforeAll(() => {
    results = synthesizeExample(example, fs.mkdtempSync(path.join(os.tmpdir(), `example-${example}-`)));
  });

  test('has at least one stack', () => {
    expect(results.length).toBeGreaterThan(0);
  });

  test('has no unacknowledged cdk-nag AwsSolutions finding', () => {
    expect(results.flatMap(r => r.nag.map(f => `${r.stackName}: ${f.rule} on ${f.resources.join(', ')}`))).toEqual([]);
  });

  test('has no unacknowledged Control Tower finding', () => {
    expect(results.flatMap(r => r.controls.flatMap(f => f.resources.map(resource =>
      `${r.stackName}: ${f.control} ${f.rule} on ${resource.constructPath}`)))).toEqual([]);
  });

  test('every resource is valid against the CloudFormation resource specification', () => {
    expect(results.flatMap(r => r.spec.map(p => `${r.stackName}: ${p.constructPath}: ${p.message}`))).toEqual([]);
  });

  test('matches its template snapshot', () => {
    for (const r of results) {
      expect(normalized(r.template)).toMatchSnapshot(r.stackName);
    }
  });
});

describe('Control Tower acknowledgements', () => {
  const LOGGING = 's3_bucket_logging_enabled_check';
  const REASON = 'This bucket receives the access logs of the other bucket; logging its own access would log into itself.';

  test('silence the rule on exactly the named resource, and keep the reason in the template and the construct metadata', () => {
    const app = new App({ outdir: fs.mkdtempSync(path.join(os.tmpdir(), 'control-ack-')) });
    const stack = new Stack(app, 'Acks');
    const logs = new s3.Bucket(stack, 'Logs', { enforceSSL: true });
    new s3.Bucket(stack, 'Data', { enforceSSL: true });
    const bare = new s3.Bucket(stack, 'Bare', { enforceSSL: true });
    acknowledgeControl(logs, LOGGING, REASON);
    // Listed without a reason: not an acknowledgement.
    (bare.node.defaultChild as s3.CfnBucket).addMetadata('guard', { SuppressedRules: [LOGGING] });
    const artifact = app.synth().getStackByName('Acks');

    const logging = controlTowerFindings([artifact.templateFullPath]).filter(f => f.rule === LOGGING);
    expect(logging.map(f => f.control)).toEqual(['CT.S3.PR.2']);
    expect(logging[0].resources.map(r => r.constructPath).sort()).toEqual(['/Acks/Bare/Resource', '/Acks/Data/Resource']);

    const logicalId = stack.getLogicalId(logs.node.defaultChild as s3.CfnBucket);
    expect(artifact.template.Resources[logicalId].Metadata.guard).toEqual({ SuppressedRules: [LOGGING], SuppressionReasons: { [LOGGING]: REASON } });
    expect(artifact.findMetadataByType(ACKNOWLEDGED_CONTROLS_METADATA_KEY)).toEqual([
      expect.objectContaining({ path: '/Acks/Logs/Resource', data: { [LOGGING]: REASON } }),
    ]);
  });

  test('need one resource, a guard rule name and a full sentence', () => {
    const stack = new Stack(new App(), 'Acks');
    const bucket = new s3.Bucket(stack, 'Logs');
    expect(() => acknowledgeControl(stack, LOGGING, REASON)).toThrow(/Acks is not a CloudFormation resource/);
    expect(() => acknowledgeControl(bucket, 'CT.S3.PR.2', REASON)).toThrow(/not a guard rule name/);
    expect(() => acknowledgeControl(bucket, LOGGING, 'log bucket')).toThrow(/full sentence/);
  });
});
