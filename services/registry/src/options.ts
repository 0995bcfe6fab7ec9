import type { GeneralSettings } from '#libs/config';
import type { McpServerSpec } from '#libs/contracts';
import type { HostResolver } from '#libs/net-guard';

export interface RegistryOptions {
  /** `mcp_servers` of config.yaml, seeded at start (key = server name). */
  seedServers: Record<string, McpServerSpec>;
  /** `general_settings` of config.yaml: the upstream rules (blocked and allowed IP ranges, stdio commands). */
  generalSettings?: GeneralSettings;
  /** Resolves upstream host names for the URL checks (the system's resolver by default; tests pass a stub). */
  resolver?: HostResolver;
  /** Every healthy server's tools are fetched again after this long (default 30 s). */
  healthyRefreshMs?: number;
  /** A server left out of the catalog is fetched again after about this long (default 0.5 s), doubling each time... */
  retryInitialMs?: number;
  /** ...up to this long between two tries (default 30 s), so that one that comes back reappears. */
  unhealthyRefreshMs?: number;
  /** The most a catalog fetch may wait for one server (default 10 s; a server's own timeout may lower it). */
  maxFetchMs?: number;
}

export const DEFAULT_HEALTHY_REFRESH_MS = 30_000;
export const DEFAULT_RETRY_INITIAL_MS = 500;
export const DEFAULT_UNHEALTHY_REFRESH_MS = 30_000;
export const DEFAULT_MAX_FETCH_MS = 10_000;
