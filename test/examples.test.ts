import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { exampleNames, StackResult, synthesizeExample } from '../scripts/lib/examples';

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

  test('every resource is valid against the CloudFormation resource specification', () => {
    expect(results.flatMap(r => r.spec.map(p => `${r.stackName}: ${p.constructPath}: ${p.message}`))).toEqual([]);
  });

  test('matches its template snapshot', () => {
    for (const r of results) {
      expect(normalized(r.template)).toMatchSnapshot(r.stackName);
    }
  });
});
