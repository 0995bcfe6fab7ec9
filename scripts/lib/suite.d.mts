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

export type SuiteMode = 'distributed' | 'one-process';
export interface SuiteOptions {
  /** 'distributed' (the default): separate processes on NATS, Postgres and Redis; 'one-process': services/one-process alone. */
  mode?: SuiteMode;
  /** Distributed only. */
  edges?: number;
  connectors?: number;
  /** Written as the suite's config.yaml (an object is serialized to YAML). */
  config?: Record<string, unknown> | string;
  masterKey?: string;
  env?: Record<string, string>;
  echo?: boolean;
  readyTimeoutMs?: number;
  /** Distributed only: brokers to use instead of the machine's (the resilience suite's private ones). */
  natsUrl?: string;
  redisUrl?: string;
  /** `postgres://user@host:port`, without a database: the suite creates its own. */
  pgBase?: string;
}
export interface Suite {
  mode: SuiteMode;
  id: string;
  edgeUrls: string[];
  masterKey: string;
  /** Distributed only. */
  namespace?: string;
  redisPrefix?: string;
  databaseUrl?: string;
  /** One-process only: its embedded data folder. */
  dataDir?: string;
  /** One-process only: stops the process and starts it again on the same data folder and port. */
  restart?(): Promise<void>;
  configPath: string;
  processes: Map<ServiceName | 'one-process', NodeProcess[]>;
  /** Every child's output, for a failing test. */
  logs(): string;
  startService(name: ServiceName, env?: Record<string, string>): Promise<{ index: number; url?: string; process: NodeProcess }>;
  stopService(name: ServiceName, index?: number): Promise<void>;
  /** Distributed only: kill -9 one replica (no shutdown work); resolves once it has exited. */
  killService?(name: ServiceName, index?: number): Promise<void>;
  stop(): Promise<void>;
}
export declare function startSuite(options?: SuiteOptions): Promise<Suite>;
