/**
 * The gateway the fault tests run: the distributed suite on private brokers, two replicas of every service, the
 * resilience upstream fixture as server `res`, and a key allowed to use it (with an rpm_limit, so that every
 * request is counted in Redis).
 */
import { afterEach } from 'vitest';
import { startSuite, type ServiceName, type Suite } from '../../../scripts/lib/suite.mjs';
import { startResilienceUpstream, type ResilienceUpstream } from '../../fixtures/resilience-upstream.js';
import { startBrokers, type Brokers } from './brokers.js';

export const SERVICES_IN_TURN: ServiceName[] = ['edge', 'connector', 'registry', 'auth', 'llm-proxy'];

/** The load: `RESILIENCE_LOAD=full` (npm run test:resilience) or the CI-sized one (npm test, CI set or not). */
export const FULL = process.env.RESILIENCE_LOAD === 'full';

export interface Gateway {
  brokers: Brokers;
  upstream: ResilienceUpstream;
  suite: Suite;
  key: string;
  /** Edges that are running (for the load balancer). */
  liveEdges(): string[];
  /** The indexes of a service's running replicas. */
  live(name: ServiceName): number[];
  /** Starts one more replica of `name` and waits until it says it is ready. */
  addReplica(name: ServiceName): Promise<number>;
  stop(): Promise<void>;
}

export async function startGateway(options: { config?: Record<string, unknown>; env?: Record<string, string>; replicas?: number } = {}): Promise<Gateway> {
  const replicas = options.replicas ?? 2;
  const brokers = await startBrokers();
  const upstream = await startResilienceUpstream();
  let suite: Suite | undefined;
  try {
    suite = await startSuite({
      edges: replicas,
      connectors: replicas,
      ...brokers.suiteOptions,
      env: { SHUTDOWN_GRACE_MS: '1000', ...options.env },
      config: { ...options.config, mcp_servers: { res: { url: upstream.url, transport: 'http', timeout: 20 }, ...(options.config?.mcp_servers as object) } },
    });
    const s = suite;
    const live = (name: ServiceName) =>
      (s.processes.get(name) ?? []).flatMap((p, i) => (p.child.exitCode === null && p.child.signalCode === null && !p.stoppedOnPurpose ? [i] : []));
    const addReplica = async (name: ServiceName) => {
      const { index, process: proc } = await s.startService(name);
      await proc.waitForLine(new RegExp(`${name} ready \\(`), 60_000);
      return index;
    };
    for (const name of ['registry', 'auth', 'llm-proxy'] as const) for (let i = 1; i < replicas; i++) await addReplica(name);
    const reply = await fetch(`${s.edgeUrls[0]}/key/generate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-litellm-api-key': `Bearer ${s.masterKey}` },
      body: JSON.stringify({ key_alias: 'resilience', rpm_limit: 1_000_000, object_permission: { mcp_servers: ['res'] } }),
    });
    if (reply.status !== 200) throw new Error(`key/generate answered ${reply.status}: ${await reply.text()}`);
    const { key } = (await reply.json()) as { key: string };
    return {
      brokers,
      upstream,
      suite: s,
      key,
      liveEdges: () => live('edge').map((i) => s.edgeUrls[i]!),
      live,
      addReplica,
      stop: async () => {
        await s.stop();
        await upstream.close();
        await brokers.close();
      },
    };
  } catch (error) {
    await suite?.stop().catch(() => undefined);
    await upstream.close();
    await brokers.close();
    throw error;
  }
}

/** Prints every service's output after a failing test (and always with DEBUG_E2E). */
export function printLogsOnFailure(get: () => Gateway | undefined): void {
  afterEach((context) => {
    const gateway = get();
    if (!gateway) return;
    if (context.task.result?.state === 'fail' || process.env.DEBUG_E2E) {
      process.stderr.write(`\n===== service output for "${context.task.name}" =====\n${gateway.suite.logs().split('\n').slice(-400).join('\n')}\n`);
    }
  });
}

/** Polls until `check` is truthy, or throws after `timeoutMs`. */
export async function until<T>(what: string, check: () => Promise<T> | T, timeoutMs = 10_000, intervalMs = 50): Promise<T> {
  const started = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms (last: ${last instanceof Error ? last.message : String(last)})`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
