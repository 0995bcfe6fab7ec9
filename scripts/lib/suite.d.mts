import type { ChildProcess } from 'node:child_process';

export declare const ROOT: string;
export declare const SERVICES: readonly ['registry', 'auth', 'llm-proxy', 'connector', 'edge'];
export type ServiceName = (typeof SERVICES)[number];
export declare const EVERYTHING_ENTRY: string;
export declare const COUNTING_SERVER_ENTRY: string;

export interface NodeProcess {
  name: string;
  child: ChildProcess;
  output: string[];
  exited: Promise<number | null>;
  port?: number;
  stoppedOnPurpose?: boolean;
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  stop(graceMs?: number): Promise<void>;
}

export declare function freePort(): Promise<number>;
export declare function spawnNode(name: string, script: string, args: string[], options?: { env?: NodeJS.ProcessEnv; cwd?: string; echo?: boolean }): NodeProcess;

export interface StdioEverything {
  command: string;
  args: string[];
  stop(): Promise<void>;
}
export interface HttpEverything {
  url: string;
  port: number;
  process: NodeProcess;
  stop(): Promise<void>;
}
export declare function startEverything(transport: 'stdio', options?: { echo?: boolean }): Promise<StdioEverything>;
export declare function startEverything(transport: 'sse' | 'streamableHttp', options?: { echo?: boolean }): Promise<HttpEverything>;

export interface CountingStats {
  initialize: number;
  toolsCall: number;
  sessions: number;
}
export interface CountingServer {
  url: string;
  port: number;
  process: NodeProcess;
  stats(): Promise<CountingStats>;
  stop(): Promise<void>;
}
export declare function startCountingServer(options?: { echo?: boolean }): Promise<CountingServer>;

export interface SuiteOptions {
  edges?: number;
  connectors?: number;
  /** Written as the suite's config.yaml (an object is serialized to YAML). */
  config?: Record<string, unknown> | string;
  masterKey?: string;
  env?: Record<string, string>;
  echo?: boolean;
  readyTimeoutMs?: number;
}
export interface Suite {
  id: string;
  edgeUrls: string[];
  masterKey: string;
  namespace: string;
  redisPrefix: string;
  databaseUrl: string;
  configPath: string;
  processes: Map<ServiceName, NodeProcess[]>;
  /** Every child's output, for a failing test. */
  logs(): string;
  startService(name: ServiceName, env?: Record<string, string>): Promise<{ index: number; url?: string; process: NodeProcess }>;
  stopService(name: ServiceName, index?: number): Promise<void>;
  stop(): Promise<void>;
}
export declare function startSuite(options?: SuiteOptions): Promise<Suite>;
