import { HttpProblem } from './http-problem.js';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * MCP's DNS-rebinding protection: a browser Origin must be a loopback one or listed in ALLOWED_ORIGINS.
 * Requests without Origin (non-browser clients) pass.
 */
export class OriginPolicy {
  private readonly allowed: Set<string>;

  constructor(allowedOrigins: readonly string[]) {
    this.allowed = new Set(allowedOrigins.map((o) => o.trim().replace(/\/$/, '')).filter(Boolean));
  }

  check(origin: string | undefined): void {
    if (!origin || this.isAllowed(origin)) return;
    throw new HttpProblem(403, `Origin ${origin} is not allowed`);
  }

  private isAllowed(origin: string): boolean {
    if (this.allowed.has('*') || this.allowed.has(origin)) return true;
    try {
      return LOOPBACK_HOSTS.has(new URL(origin).hostname);
    } catch {
      return false;
    }
  }
}
