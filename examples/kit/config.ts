/**
 * The environment contract (README "Environment contract"), read once at start with local defaults.
 */
export interface RuntimeConfig {
  readonly port: number;
  /** Pings must go out well inside this many seconds. */
  readonly keepaliveBoundSeconds: number;
  readonly drainSeconds: number;
  readonly metricsNamespace: string;
  readonly metricsService: string;
  /** Unset: the in-memory bus (one process only). */
  readonly busUrl?: string;
  readonly busAuth?: string;
  readonly busCluster: boolean;
  /** ECS task metadata endpoint (v4), set by ECS; used to notice a stop before SIGTERM. */
  readonly taskMetadataUri?: string;
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): RuntimeConfig {
  return {
    port: int(env, 'PORT', 8080, 0, 65535),
    keepaliveBoundSeconds: int(env, 'REALTIME_IDLE_TIMEOUT_SECONDS', 120, 2, 4000),
    drainSeconds: int(env, 'REALTIME_DRAIN_SECONDS', 30, 0, 120),
    metricsNamespace: env.REALTIME_METRICS_NAMESPACE ?? 'CdkRealtime',
    metricsService: env.REALTIME_METRICS_SERVICE ?? 'local',
    busUrl: env.REALTIME_BUS_URL || undefined,
    busAuth: env.REALTIME_BUS_AUTH || undefined,
    busCluster: env.REALTIME_BUS_CLUSTER === 'true',
    taskMetadataUri: env.ECS_CONTAINER_METADATA_URI_V4 || undefined,
  };
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') {
    return fallback;
  }
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name}=${raw} is not a whole number from ${min} to ${max}`);
  }
  return value;
}
