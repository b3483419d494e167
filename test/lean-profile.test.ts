import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { StackResult, synthesizeExample } from '../scripts/lib/examples';

/**
 * `-c profile=lean` for every example: the same nag, Control Tower and specification bars as the default
 * profile, the idle estimate under its target, and the parts that make it cheap (serverless Valkey, scale to
 * zero, no NAT gateway, no interface endpoint, no web ACL, one OpenSearch node) actually in the template.
 */
interface LeanExpectation {
  /** Idle $/month the lean profile must stay at or under. */
  readonly target: number;
  /** The example's tasks scale to zero (a gateway bot's shards cannot). */
  readonly scalesToZero: boolean;
  /** The VPC has no NAT gateway (a bot's functions in the VPC need one). */
  readonly withoutNat: boolean;
}

const LEAN: Record<string, LeanExpectation> = {
  canvas: { target: 30, scalesToZero: true, withoutNat: true },
  chat: { target: 60, scalesToZero: true, withoutNat: true },
  echo: { target: 32, scalesToZero: true, withoutNat: true },
  quiz: { target: 30, scalesToZero: true, withoutNat: true },
  // A gateway bot holds live sessions, and its functions in the VPC need the NAT gateway: only the cache gets leaner.
  bot: { target: 75, scalesToZero: false, withoutNat: false },
};

function synth(example: string, context?: Record<string, string>): StackResult[] {
  return synthesizeExample(example, fs.mkdtempSync(path.join(os.tmpdir(), `lean-${example}-`)), context);
}

function resourcesOf(results: StackResult[], type: string): Array<{ id: string; props: any }> {
  return results.flatMap(r => Object.entries<any>(r.template.Resources)
    .filter(([, resource]) => resource.Type === type)
    .map(([id, resource]) => ({ id, props: resource.Properties ?? {} })));
}

/** The README cost table's figure for an example in the row whose first cell is `label`. */
function readmeFigure(example: string, label: string): string {
  const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
  const section = readme.split('## What an example costs when nobody uses it')[1].split('\n## ')[0];
  const rows = section.split('\n').filter(l => l.startsWith('|')).map(l => l.split('|').slice(1, -1).map(c => c.trim()));
  const column = rows[0].indexOf(example);
  const row = rows.find(r => r[0] === label);
  if (column <= 0 || !row) {
    throw new Error(`README's cost table has no column ${example} or no row ${label}`);
  }
  return row[column].replace(/\*/g, '');
}

const total = (results: StackResult[]) => results.reduce((sum, r) => sum + r.cost.total, 0);

describe.each(Object.entries(LEAN))('examples/%s with -c profile=lean', (example, expected) => {
  let lean: StackResult[];
  beforeAll(() => {
    lean = synth(example, { profile: 'lean' });
  });

  test('has no unacknowledged cdk-nag AwsSolutions or Control Tower finding and no specification problem', () => {
    expect(lean.flatMap(r => r.nag.map(f => `${r.stackName}: ${f.rule} on ${f.resources.join(', ')}`))).toEqual([]);
    expect(lean.flatMap(r => r.controls.flatMap(f => f.resources.map(res => `${r.stackName}: ${f.control} on ${res.constructPath}`)))).toEqual([]);
    expect(lean.flatMap(r => r.spec.map(p => `${r.stackName}: ${p.constructPath}: ${p.message}`))).toEqual([]);
  });

  test(`idles at or under $${expected.target} a month, every resource priced or known, as README states`, () => {
    expect(lean.flatMap(r => r.cost.unpriced.map(l => `${r.stackName}/${l.logicalId}`))).toEqual([]);
    expect(total(lean)).toBeLessThanOrEqual(expected.target);
    expect(readmeFigure(example, '**lean profile**')).toBe(total(lean).toFixed(2));
  });

  test('runs the bus on serverless Valkey, not nodes', () => {
    expect(resourcesOf(lean, 'AWS::ElastiCache::ReplicationGroup')).toEqual([]);
    const caches = resourcesOf(lean, 'AWS::ElastiCache::ServerlessCache');
    expect(caches.map(c => [c.props.Engine, c.props.CacheUsageLimits?.DataStorage])).toEqual([['valkey', { Maximum: 1, Unit: 'GB' }]]);
  });

  test(`pays for no ${expected.withoutNat ? 'NAT gateway, Elastic IP, ' : ''}interface endpoint or web ACL`, () => {
    expect(resourcesOf(lean, 'AWS::EC2::NatGateway').length).toBe(expected.withoutNat ? 0 : 1);
    expect(resourcesOf(lean, 'AWS::EC2::EIP').length).toBe(expected.withoutNat ? 0 : 1);
    expect(resourcesOf(lean, 'AWS::EC2::VPCEndpoint').filter(e => (e.props.VpcEndpointType ?? 'Gateway') !== 'Gateway')).toEqual([]);
    expect(resourcesOf(lean, 'AWS::OpenSearchServerless::VpcEndpoint')).toEqual([]);
    expect(resourcesOf(lean, 'AWS::WAFv2::WebACL')).toEqual([]);
  });

  test(expected.withoutNat
    ? 'tasks run in public subnets with their own address, behind a group that admits only the load balancer'
    : 'tasks stay in private subnets without an address of their own', () => {
    for (const r of lean) {
      const resources = r.template.Resources;
      const services = resourcesOf([r], 'AWS::ECS::Service');
      expect(services.length).toBeGreaterThan(0);
      for (const service of services) {
        const network = service.props.NetworkConfiguration.AwsvpcConfiguration;
        if (!expected.withoutNat) {
          expect(network.AssignPublicIp).toBe('DISABLED');
          for (const subnet of network.Subnets) {
            expect(resources[subnet.Ref].Properties.Tags).toContainEqual({ Key: 'aws-cdk:subnet-type', Value: 'Private' });
          }
          continue;
        }
        expect(network.AssignPublicIp).toBe('ENABLED');
        for (const subnet of network.Subnets) {
          expect(resources[subnet.Ref].Properties.Tags).toContainEqual({ Key: 'aws-cdk:subnet-type', Value: 'Public' });
        }
        const [groupId] = network.SecurityGroups.map((g: any) => g['Fn::GetAtt'][0]);
        expect(resources[groupId].Properties.SecurityGroupIngress ?? []).toEqual([]);
        const ingress = resourcesOf([r], 'AWS::EC2::SecurityGroupIngress').filter(i => i.props.GroupId?.['Fn::GetAtt']?.[0] === groupId);
        expect(ingress.length).toBeGreaterThan(0);
        for (const rule of ingress) {
          const source = rule.props.SourceSecurityGroupId?.['Fn::GetAtt']?.[0];
          expect(resources[source].Properties.GroupDescription).toMatch(/^Load balancer of /);
        }
      }
    }
  });

  test(expected.scalesToZero ? 'scales the tasks to zero when idle' : 'keeps its tasks', () => {
    const minimums = resourcesOf(lean, 'AWS::ApplicationAutoScaling::ScalableTarget').map(t => t.props.MinCapacity);
    if (expected.scalesToZero) {
      expect(minimums).toEqual([0]);
      expect(lean.flatMap(r => r.cost.lines.filter(l => l.type === 'AWS::ECS::Service' && l.kind === 'priced').map(l => l.monthly))).toEqual([0, 0, 0]);
    } else {
      expect(minimums).toEqual([]);
      expect(resourcesOf(lean, 'AWS::ECS::Service').map(s => s.props.DesiredCount)).not.toContain(0);
    }
  });
});

describe('examples/chat with -c profile=lean searches one OpenSearch node', () => {
  test('a domain of one t3.small.search node with a 10 GiB gp3 volume, no serverless collection, acknowledged fault tolerance', () => {
    const lean = synth('chat', { profile: 'lean' });
    expect(resourcesOf(lean, 'AWS::OpenSearchServerless::Collection')).toEqual([]);
    const [domain, ...others] = resourcesOf(lean, 'AWS::OpenSearchService::Domain');
    expect(others).toEqual([]);
    expect(domain.props.ClusterConfig).toMatchObject({ InstanceCount: 1, InstanceType: 't3.small.search', ZoneAwarenessEnabled: false });
    expect(domain.props.EBSOptions).toMatchObject({ VolumeSize: 10, VolumeType: 'gp3' });
    const metadata = lean[0].template.Resources[domain.id].Metadata.guard;
    expect(metadata.SuppressedRules).toContain('opensearch_data_node_fault_tolerance_check');
    expect(metadata.SuppressionReasons.opensearch_data_node_fault_tolerance_check).toMatch(/^The lean profile keeps the search index on one data node .*\.$/);
  });
});

describe('profiles', () => {
  test.each(Object.keys(LEAN))('examples/%s: the default profile (profile unset or default) is unchanged and costs what README states', example => {
    const unset = synth(example);
    const named = synth(example, { profile: 'default' });
    expect(named.map(r => r.template)).toEqual(unset.map(r => r.template));
    expect(readmeFigure(example, '**default profile**')).toBe(total(unset).toFixed(2));
    expect(resourcesOf(unset, 'AWS::EC2::NatGateway').length).toBe(1);
    expect(resourcesOf(unset, 'AWS::ElastiCache::ReplicationGroup').map(g => g.props.NumCacheClusters)).toEqual([2]);
  });

  test('an unknown profile fails synthesis with the names there are', () => {
    expect(() => synth('echo', { profile: 'cheap' })).toThrow(
      "RealtimeEcho: context profile 'cheap' is not a profile; use -c profile=lean, or leave profile unset for the default (profiles: default, lean)");
  });
});
