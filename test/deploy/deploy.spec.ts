import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { parseGatewayConfig } from '#libs/config';
import { metricsRegistry, startProcessMetrics } from '#libs/observability';
import { InfrastructureEnvShape } from '#libs/runtime';
import { authDefinition } from '../../services/auth/src/auth.definition.js';
import { connectorDefinition } from '../../services/connector/src/connector.definition.js';
import { edgeDefinition } from '../../services/edge/src/edge.definition.js';
import { llmProxyDefinition } from '../../services/llm-proxy/src/llm-proxy.definition.js';
import { registryDefinition } from '../../services/registry/src/registry.definition.js';

// Docker is not available where the tests run, so docker-compose.yml and deploy/ are checked for consistency
// with the code instead: every service, env var, port and path the code needs appears in them.

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

interface ComposeService {
  build?: { context?: string; dockerfile?: string };
  image?: string;
  command?: string[] | string;
  environment?: Record<string, string | number | boolean | null> | string[];
  ports?: (string | { published?: string | number; target?: number })[];
  container_name?: string;
  volumes?: (string | { source?: string; target?: string })[];
  healthcheck?: unknown;
  depends_on?: Record<string, unknown> | string[];
}
const compose = parseYaml(read('docker-compose.yml'), { merge: true }) as { services: Record<string, ComposeService> };
const services = compose.services;
const serviceDirs = readdirSync(join(ROOT, 'services'), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name);
const APP_SERVICES = ['edge', 'registry', 'auth', 'connector', 'llm-proxy'];
/** Every variable a Switchboard process reads: the infrastructure and runtime settings and each service's own. */
const KNOWN_ENV = [
  ...Object.keys(InfrastructureEnvShape),
  ...[registryDefinition, authDefinition, connectorDefinition, llmProxyDefinition, edgeDefinition].flatMap((d) => Object.keys(d.env)),
  'MASTER_KEY',
  'SWITCHBOARD_CONFIG',
  'NODE_ENV',
];
startProcessMetrics('deploy-test'); // the process metrics the dashboard charts are registered by this

function environmentOf(service: ComposeService): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) return Object.fromEntries(env.map((line) => [line.split('=')[0]!, line.split('=').slice(1).join('=')]));
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

/** UPPER_SNAKE_CASE keys of the zod shapes in a file, and whether each has a default or is optional. */
function envKeys(source: string): Map<string, { hasDefault: boolean }> {
  const keys = new Map<string, { hasDefault: boolean }>();
  const lines = source.split('\n');
  const starts: { key: string; line: number }[] = [];
  lines.forEach((line, i) => {
    const match = /^\s*([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[A-Z]{3,})\s*:/.exec(line);
    if (match) starts.push({ key: match[1]!, line: i });
  });
  starts.forEach(({ key, line }, i) => {
    const end = i + 1 < starts.length ? starts[i + 1]!.line : Math.min(lines.length, line + 8);
    const text = lines.slice(line, end).join('\n').replace(/\/\/.*$/gm, '');
    keys.set(key, { hasDefault: /\.default\(|\.optional\(|\.catch\(/.test(text) });
  });
  return keys;
}

/** libs/config/src/settings.ts: `export const XEnv = { ... }` fragments by name. */
function libFragments(): Map<string, Map<string, { hasDefault: boolean }>> {
  const source = read('libs/config/src/settings.ts');
  const fragments = new Map<string, Map<string, { hasDefault: boolean }>>();
  const pattern = /export const (\w+Env) = \{([\s\S]*?)\n\};/g;
  for (let m = pattern.exec(source); m; m = pattern.exec(source)) fragments.set(m[1]!, envKeys(m[2]!));
  return fragments;
}

/** Every env var a service reads: its config.ts plus the lib fragments it uses (BusEnv and ConfigFileEnv always). */
function envOfService(name: string): Map<string, { hasDefault: boolean }> | undefined {
  const path = `services/${name}/src/config.ts`;
  if (!existsSync(join(ROOT, path))) return undefined;
  const source = read(path);
  const all = new Map(envKeys(source));
  for (const [fragment, keys] of libFragments()) {
    if (fragment === 'BusEnv' || fragment === 'ConfigFileEnv' || new RegExp(`\\b${fragment}\\b`).test(source)) {
      for (const [k, v] of keys) if (!all.has(k)) all.set(k, v);
    }
  }
  return all;
}

const commandOf = (service: ComposeService) => (Array.isArray(service.command) ? service.command : String(service.command ?? '').split(/\s+/));

describe('docker-compose.yml', () => {
  it('has nats (with JetStream), postgres and redis', () => {
    expect(Object.keys(services)).toEqual(expect.arrayContaining(['nats', 'postgres', 'redis']));
    expect(commandOf(services.nats!)).toContain('-js');
  });

  it('has a compose service for every service directory', () => {
    expect(serviceDirs.length).toBeGreaterThan(0);
    for (const dir of serviceDirs) expect(Object.keys(services), `services/${dir} has no compose service`).toContain(dir);
    for (const name of APP_SERVICES) expect(Object.keys(services)).toContain(name);
  });

  it('builds every app service from deploy/Dockerfile and runs the dist main.js of a real main.ts', () => {
    for (const name of APP_SERVICES) {
      const service = services[name]!;
      expect(service.build?.dockerfile, name).toBe('deploy/Dockerfile');
      const script = commandOf(service).find((part) => part.endsWith('.js'));
      expect(script, `${name} command`).toBe(`dist/services/${name}/src/main.js`);
      const sourceMain = script!.replace(/^dist\//, '').replace(/\.js$/, '.ts');
      expect(existsSync(join(ROOT, sourceMain)), `${sourceMain} exists`).toBe(true);
    }
  });

  it('sets or defaults every env var each service reads', () => {
    const checked: string[] = [];
    for (const name of serviceDirs) {
      const keys = envOfService(name);
      if (!keys) continue; // a service without its own env shape reads only the lib fragments: covered by the others
      const env = environmentOf(services[name]!);
      for (const [key, { hasDefault }] of keys) {
        if (!hasDefault) expect(Object.keys(env), `${name} reads ${key} (no default) but compose does not set it`).toContain(key);
      }
      checked.push(name);
    }
    expect(checked.length, 'at least one service has a config.ts').toBeGreaterThan(0);
  });

  it('wires every app service to the compose infrastructure', () => {
    for (const name of APP_SERVICES) {
      const env = environmentOf(services[name]!);
      // the services' NATS user of deploy/nats/auth.conf
      expect(env.NATS_URL, name).toBe('nats://switchboard:${NATS_SERVICES_PASSWORD:-switchboard-local-nats-change-me}@nats:4222');
      expect(env.DATABASE_URL, name).toBe('postgres://postgres:postgres@postgres:5432/switchboard');
      expect(env.REDIS_URL, name).toBe('redis://redis:6379');
      expect(env.MASTER_KEY, name).toBe('${MASTER_KEY:-sk-1234}');
      expect(env.SWITCHBOARD_CONFIG, name).toBe('/app/config.yaml');
      expect(env.METRICS_PORT, `${name} serves its metrics`).toBe('9464');
      expect(env.SWITCHBOARD_SALT_KEY, name).toBeDefined();
      const mounts = (services[name]!.volumes ?? []).map(String);
      expect(mounts, name).toContain('./config.example.yaml:/app/config.yaml:ro');
      expect(services[name]!.healthcheck, `${name} healthcheck`).toBeDefined();
    }
  });

  it('reads an optional .env, and starts the edge only once the other services are healthy', () => {
    const envFiles = (services.registry as { env_file?: { path: string; required?: boolean }[] }).env_file ?? [];
    expect(envFiles).toEqual([{ path: '.env', required: false }]);
    expect(existsSync(join(ROOT, '.env.example'))).toBe(true);
    const dependsOn = services.edge!.depends_on as Record<string, { condition: string }>;
    for (const name of ['registry', 'auth', 'connector', 'llm-proxy', 'nats', 'postgres', 'redis']) expect(dependsOn[name]?.condition, name).toBe('service_healthy');
  });

  it('publishes the edge on 4000 and nothing else on the host', () => {
    const ports = (services.edge!.ports ?? []).map(String);
    expect(ports.length).toBeGreaterThan(0);
    expect(ports.some((p) => /(^|:)4000(-\d+)?:4000$/.test(p))).toBe(true);
    expect(environmentOf(services.edge!).PORT ?? '4000').toBe('4000');
    for (const name of ['registry', 'auth', 'connector', 'llm-proxy']) expect(services[name]!.ports, name).toBeUndefined();
  });

  it('lets connector and edge scale: no container_name, no fixed host port a second replica would collide on', () => {
    for (const name of ['connector', 'edge']) expect(services[name]!.container_name, name).toBeUndefined();
    // `--scale edge=2` needs a host port per replica: a range at least two wide.
    for (const port of (services.edge!.ports ?? []).map(String)) {
      const host = port.split(':').slice(-2, -1)[0] ?? '';
      const range = /^(\d+)-(\d+)$/.exec(host);
      expect(range, `edge port "${port}" must publish a host port range for --scale edge=2`).not.toBeNull();
      expect(Number(range![2]) - Number(range![1])).toBeGreaterThanOrEqual(1);
    }
  });

  it('has the one-process default as a one-container variant: no NATS, Postgres or Redis, its data on a volume', () => {
    const one = services['one-process']!;
    expect(commandOf(one)).toContain('dist/services/one-process/src/main.js');
    expect(existsSync(join(ROOT, 'services/one-process/src/main.ts'))).toBe(true);
    const env = environmentOf(one);
    for (const key of ['NATS_URL', 'DATABASE_URL', 'REDIS_URL']) expect(env[key], key).toBeUndefined();
    expect(env.SWITCHBOARD_CONFIG).toBe('/app/config.yaml');
    const dataMount = (one.volumes ?? []).map(String).find((v) => v.endsWith(`:${env.SWITCHBOARD_DATA_DIR}`));
    expect(dataMount, 'SWITCHBOARD_DATA_DIR is a mounted volume').toBeDefined();
    expect(Object.keys((compose as { volumes?: Record<string, unknown> }).volumes ?? {})).toContain(dataMount!.split(':')[0]);
    expect(one.healthcheck).toBeDefined();
    expect(one.depends_on).toBeUndefined();
  });

  it('mounts files that exist', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const volume of (service.volumes ?? []).map(String)) {
        if (!volume.startsWith('./')) continue;
        expect(existsSync(join(ROOT, volume.split(':')[0]!)), `${name} mounts ${volume}`).toBe(true);
      }
    }
  });
});

describe('deploy/Dockerfile', () => {
  const dockerfile = read('deploy/Dockerfile');

  it('is multi-stage: npm ci, npm run build, prune', () => {
    expect(dockerfile.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/RUN npm ci\b/);
    expect(dockerfile).toMatch(/npm run build/);
    expect(dockerfile).toMatch(/npm prune --omit=dev/);
  });

  it('copies only paths that exist', () => {
    const copies = [...dockerfile.matchAll(/^COPY (?!--from)(.+)$/gm)].map((m) => m[1]!.trim().split(/\s+/).slice(0, -1));
    for (const source of copies.flat()) expect(existsSync(join(ROOT, source)), `COPY ${source}`).toBe(true);
  });

  it('copies package.json into the runtime image (its "imports" map resolves #libs at run time)', () => {
    expect(dockerfile).toMatch(/COPY --from=build \/app\/package\.json/);
    const pkg = JSON.parse(read('package.json')) as { imports: Record<string, { default: string }> };
    expect(pkg.imports['#libs/*']!.default).toMatch(/^\.\/dist\//);
  });

  it('is not sent the build context it does not need', () => {
    const ignored = read('.dockerignore').split('\n');
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', '.git']));
  });
});

describe('deploy/nats', () => {
  it('enables JetStream and the monitoring port the health check uses', () => {
    const conf = read('deploy/nats/nats.conf');
    expect(conf).toMatch(/jetstream\s*\{/);
    expect(conf).toMatch(/http_port:\s*8222/);
    expect(conf).toMatch(/include \.\/auth\.conf/);
  });

  it('is what compose runs, with both users\' passwords', () => {
    expect((services.nats!.volumes ?? []).map(String)).toContain('./deploy/nats:/etc/nats:ro');
    expect(Object.keys(environmentOf(services.nats!)).sort()).toEqual(['NATS_ADMIN_PASSWORD', 'NATS_SERVICES_PASSWORD']);
  });
});

describe('config.example.yaml', () => {
  it('is valid with no environment variables set, and serves server-everything over stdio', () => {
    const document = parseYaml(read('config.example.yaml'));
    const { config } = parseGatewayConfig(document, {});
    const everything = config.mcp_servers.everything!;
    expect(everything.transport).toBe('stdio');
    expect(everything.command).toBe('node');
    expect(existsSync(join(ROOT, everything.args[0]!))).toBe(true);
    expect(everything.args[1]).toBe('stdio');
    expect(config.general_settings.master_key).toBeUndefined();
  });
});

/** What `kubectl kustomize` renders for an overlay: every document as a plain object. */
function renderOverlay(overlay: string): K8sObject[] {
  const rendered = spawnSync('kubectl', ['kustomize', join(ROOT, 'deploy/k8s/overlays', overlay)], { encoding: 'utf8' });
  if (rendered.error) throw new Error(`kubectl is needed to render the Kustomize overlays (Debian: kubernetes-client): ${rendered.error.message}`);
  if (rendered.status !== 0) throw new Error(`kubectl kustomize ${overlay} failed:\n${rendered.stderr}`);
  return parseAllDocuments(rendered.stdout).map((d) => d.toJS() as K8sObject);
}

interface K8sContainer {
  args?: string[];
  env?: { name: string; value?: string }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  ports?: { name?: string; containerPort: number }[];
  readinessProbe?: K8sProbe;
  livenessProbe?: K8sProbe;
}
interface K8sProbe {
  httpGet?: { path: string; port: string | number };
  exec?: { command: string[] };
}
interface K8sObject {
  kind: string;
  metadata: { name: string };
  data?: Record<string, string>;
  spec?: any;
}

const OVERLAYS = readdirSync(join(ROOT, 'deploy/k8s/overlays'));
/** What each service needs besides the bus, from the code's own service definitions. */
const NEEDS: Record<string, { database?: boolean; stores?: boolean }> = {
  registry: registryDefinition.needs,
  auth: authDefinition.needs,
  connector: connectorDefinition.needs,
  'llm-proxy': llmProxyDefinition.needs,
  edge: edgeDefinition.needs,
};
/** HTTP paths the edge and the metrics listener answer (health controller, observability). */
const PROBE_PATHS = ['/health/readiness', '/health/liveliness', '/metrics'];

describe.each(OVERLAYS)('deploy/k8s/overlays/%s (kubectl kustomize)', (overlay) => {
  const documents = renderOverlay(overlay);
  const find = (kind: string, name: string) => documents.find((d) => d.kind === kind && d.metadata.name === name);
  const container = (name: string) => find('Deployment', `switchboard-${name}`)?.spec.template.spec.containers[0] as K8sContainer | undefined;
  const env = (name: string): Record<string, string> => {
    const c = container(name)!;
    const fromMaps = (c.envFrom ?? []).flatMap((ref) => (ref.configMapRef ? Object.entries(find('ConfigMap', ref.configMapRef.name)?.data ?? {}) : []));
    const fromSecrets = (c.envFrom ?? []).flatMap((ref) => {
      const secret = ref.secretRef ? find('Secret', ref.secretRef.name) : undefined;
      return Object.keys({ ...(secret?.data ?? {}), ...(secret as { stringData?: object } | undefined)?.stringData }).map((k) => [k, '(secret)'] as [string, string]);
    });
    return Object.fromEntries([...fromMaps, ...fromSecrets, ...(c.env ?? []).map((e) => [e.name, e.value ?? ''] as [string, string])]);
  };

  it('runs every service from the image, with the dist main.js of a real main.ts', () => {
    for (const name of APP_SERVICES) {
      expect(container(name), `switchboard-${name}`).toBeDefined();
      expect(container(name)!.args).toEqual([`dist/services/${name}/src/main.js`]);
      expect(existsSync(join(ROOT, `services/${name}/src/main.ts`))).toBe(true);
    }
  });

  it('gives every service what its definition needs: NATS, and Postgres, Redis and the salt key where it uses them', () => {
    for (const name of APP_SERVICES) {
      const vars = env(name);
      expect(vars.NATS_URL, `${name} NATS_URL`).toMatch(/^nats:\/\//);
      if (NEEDS[name]!.database) expect(vars.DATABASE_URL, `${name} DATABASE_URL`).toMatch(/^postgres:\/\//);
      if (NEEDS[name]!.stores) expect(vars.REDIS_URL, `${name} REDIS_URL`).toMatch(/^redis:\/\//);
      expect(vars.MASTER_KEY, `${name} MASTER_KEY from a Secret`).toBe('(secret)');
      expect(vars.SWITCHBOARD_SALT_KEY, `${name} SWITCHBOARD_SALT_KEY from a Secret`).toBe('(secret)');
      expect(vars.SWITCHBOARD_CONFIG, name).toBe('/app/config/config.yaml');
      // every variable set is one a Switchboard process reads
      for (const key of Object.keys(vars)) expect(KNOWN_ENV, `${name} sets ${key}, which no service reads`).toContain(key);
    }
    expect(find('ConfigMap', documents.find((d) => d.kind === 'ConfigMap' && d.metadata.name.startsWith('switchboard-config'))!.metadata.name)?.data?.['config.yaml']).toBeDefined();
  });

  it('probes real paths on declared ports, and serves metrics on METRICS_PORT', () => {
    for (const name of APP_SERVICES) {
      const c = container(name)!;
      const ports = new Map((c.ports ?? []).map((p) => [p.name, p.containerPort]));
      expect(ports.get('metrics'), `${name} metrics port`).toBe(Number(env(name).METRICS_PORT));
      for (const probe of [c.readinessProbe, c.livenessProbe]) {
        expect(probe, `${name} probes`).toBeDefined();
        if (probe!.httpGet) {
          expect(PROBE_PATHS).toContain(probe!.httpGet.path);
          expect(ports.has(String(probe!.httpGet.port)) || [...ports.values()].includes(Number(probe!.httpGet.port)), `${name} probes a declared port`).toBe(true);
        } else {
          expect(probe!.exec?.command).toEqual(['node', 'healthcheck.mjs', name]);
        }
      }
    }
    expect(container('edge')!.readinessProbe?.httpGet?.path).toBe('/health/readiness');
    expect(Number(env('edge').PORT)).toBe(4000);
  });

  it('exposes only the edge, on 4000, and keeps the other services closed but for metrics', () => {
    const services = documents.filter((d) => d.kind === 'Service' && d.metadata.name.startsWith('switchboard-'));
    expect(services.map((s) => s.metadata.name)).toEqual(['switchboard-edge']);
    expect(services[0]!.spec.ports[0].port).toBe(4000);
    const policies = documents.filter((d) => d.kind === 'NetworkPolicy');
    const closed = policies.find((p) => p.metadata.name === 'switchboard-services-ingress')!;
    expect(closed.spec.podSelector.matchExpressions[0].values.sort()).toEqual(['auth', 'connector', 'llm-proxy', 'registry']);
    expect(closed.spec.ingress.flatMap((rule: { ports: { port: number }[] }) => rule.ports.map((p) => p.port))).toEqual([9464]);
  });

  it('targets real Deployments with its autoscalers and disruption budgets', () => {
    for (const hpa of documents.filter((d) => d.kind === 'HorizontalPodAutoscaler')) expect(find('Deployment', hpa.spec.scaleTargetRef.name), hpa.metadata.name).toBeDefined();
    for (const pdb of documents.filter((d) => d.kind === 'PodDisruptionBudget')) {
      const selector = pdb.spec.selector.matchLabels as Record<string, string>;
      const matches = documents.filter((d) => d.kind === 'Deployment' && Object.entries(selector).every(([k, v]) => d.spec.template.metadata.labels[k] === v));
      expect(matches.length, `${pdb.metadata.name} selects one Deployment`).toBe(1);
    }
    if (overlay === 'production') {
      expect(documents.filter((d) => d.kind === 'HorizontalPodAutoscaler').map((h) => h.spec.scaleTargetRef.name).sort()).toEqual(['switchboard-connector', 'switchboard-edge']);
      expect(documents.filter((d) => d.kind === 'PodDisruptionBudget')).toHaveLength(APP_SERVICES.length);
      for (const name of APP_SERVICES) expect(find('Deployment', `switchboard-${name}`)!.spec.replicas, name).toBeGreaterThanOrEqual(2);
    }
  });
});

describe('deploy/grafana/switchboard.json', () => {
  it('charts only metrics the code exports', async () => {
    const dashboard = JSON.parse(read('deploy/grafana/switchboard.json')) as { panels: { targets: { expr: string }[] }[] };
    const exported = new Set((await metricsRegistry.getMetricsAsJSON()).map((m) => m.name));
    const used = new Set(dashboard.panels.flatMap((p) => p.targets.flatMap((t) => [...t.expr.matchAll(/\b((?:switchboard|process|nodejs)_[a-z_]+?)(?:_bucket|_count|_sum)?\b(?=[{[ )]|$)/g)].map((m) => m[1]!))));
    expect(used.size).toBeGreaterThan(10);
    for (const name of used) expect(exported, `the dashboard uses ${name}`).toContain(name);
  });
});
