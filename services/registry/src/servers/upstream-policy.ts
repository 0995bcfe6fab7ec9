import { Inject, Injectable, Logger } from '@nestjs/common';
import { DomainError, type ServerChangeCaller } from '#libs/contracts';
import { UpstreamUrlGuard, UpstreamUrlRefused } from '#libs/net-guard';
import type { RegistryOptions } from '../options.js';
import { REGISTRY_OPTIONS } from '../tokens.js';
import type { ServerDefinition } from './server-definition.js';

/**
 * general_settings' rules for upstreams (SPEC section 2), applied to every server the registry stores: its URL
 * through the UpstreamUrlGuard (names resolved), and stdio servers (a command run on the connector's host) for
 * the master key only, or for admin keys when the command is in mcp_stdio_allowed_commands.
 */
@Injectable()
export class UpstreamPolicy {
  private readonly log = new Logger(UpstreamPolicy.name);
  private readonly guard: UpstreamUrlGuard;
  private readonly stdioCommands: ReadonlySet<string>;
  /** Sent to connectors with every server definition: they check the address they connect to with them. */
  readonly ipRanges: { blocked: string[]; allowed: string[] };

  constructor(@Inject(REGISTRY_OPTIONS) options: RegistryOptions) {
    const general = options.generalSettings;
    this.ipRanges = { blocked: [...(general?.mcp_blocked_ip_ranges ?? [])], allowed: [...(general?.mcp_allowed_ip_ranges ?? [])] };
    this.guard = new UpstreamUrlGuard(this.ipRanges, options.resolver);
    this.stdioCommands = new Set(general?.mcp_stdio_allowed_commands ?? []);
  }

  /**
   * INVALID_ARGUMENT naming `field` when the URL is refused. A name that does not resolve right now is let through
   * (the connector checks the address again whenever it connects).
   */
  async checkUrl(definition: ServerDefinition, field = 'url'): Promise<void> {
    if (definition.transport === 'stdio' || !definition.url) return;
    try {
      const checked = await this.guard.check(definition.url);
      if (checked.unresolved) this.log.warn(`${field}: ${checked.unresolved}; the connector checks its address when it connects`);
    } catch (error) {
      if (!(error instanceof UpstreamUrlRefused)) throw error;
      throw new DomainError('INVALID_ARGUMENT', `${field}: ${error.message}`, { field, reason: error.reason });
    }
  }

  /** The authorization server URLs of an OAuth server, checked as `url` is (INVALID_ARGUMENT naming the field). */
  async checkOAuthUrls(definition: ServerDefinition): Promise<void> {
    for (const field of ['token_url', 'authorization_url', 'issuer', 'token_exchange_endpoint'] as const) {
      const url = definition[field];
      if (url) await this.checkEndpoint(url, field);
    }
  }

  /** Refuses an authorization server URL the address rules refuse (before the registry sends anything to it). */
  async checkEndpoint(url: string, field: string): Promise<void> {
    try {
      await this.guard.check(url);
    } catch (error) {
      if (!(error instanceof UpstreamUrlRefused)) throw error;
      throw new DomainError('INVALID_ARGUMENT', `${field}: ${error.message}`, { field, reason: error.reason });
    }
  }

  /** PERMISSION_DENIED when `caller` may not make `definition` a stdio server. */
  checkStdio(definition: ServerDefinition, caller: ServerChangeCaller | undefined): void {
    if (definition.transport !== 'stdio' || caller === 'master') return;
    if (definition.command !== null && this.stdioCommands.has(definition.command)) return;
    throw new DomainError(
      'PERMISSION_DENIED',
      `command: a stdio server runs a command on the gateway's host, so only the master key may add or change one, ` +
        `or an admin key when the command is listed in general_settings.mcp_stdio_allowed_commands ("${definition.command}" is not)`,
      { field: 'command', command: definition.command },
    );
  }

  /** Says once, when a server is stored, which transport it was given for want of one (SPEC section 2). */
  noteInferredTransport(where: string, definition: ServerDefinition): void {
    const why = definition.transport === 'http' ? 'its URL path ends in /mcp' : "LiteLLM's default when the URL path does not end in /mcp";
    this.log.log(`${where}: no transport given, using ${definition.transport} (${why})`);
  }
}
