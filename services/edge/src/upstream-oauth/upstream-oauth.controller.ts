import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { Controller, Get, Inject, Logger, Param, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { Bus } from '#libs/bus';
import {
  ApproveUpstreamConsent,
  CompleteUpstreamAuthorization,
  DescribeUpstreamConsent,
  DomainError,
  SERVER_NAME_PATTERN,
  type ReplyOf,
} from '#libs/contracts';
import { readBody } from '../http/json-body.js';
import { HTTP_STATUS_BY_CODE } from '../http/http-problem.js';
import { UpstreamUsers } from './upstream-users.js';

const CALL_TIMEOUT_MS = 30_000;
const FORM_LIMIT_BYTES = 16 * 1024;
const FLOW_COOKIE = 'sb_upstream_oauth';
const CSRF_COOKIE = 'sb_upstream_consent';
/** As long as the authorization flow lives in the store. */
const COOKIE_MAX_AGE_S = 600;

/** Nothing external, no script, no framing; the form may go to this origin (which redirects to the authorization server). */
function securityHeaders(formTarget?: string): Record<string, string> {
  return {
    'Content-Security-Policy': `default-src 'none'; style-src 'unsafe-inline'; form-action 'self'${formTarget ? ` ${formTarget}` : ''}; base-uri 'none'; frame-ancestors 'none'`,
    'X-Frame-Options': 'DENY',
    'X-Content-Type-Options': 'nosniff',
    // the consent link carries its ticket: never in a Referer
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-store',
  };
}

/**
 * The consent page for per-user upstream OAuth (SPEC section 3), as the MCP security best practices ask of a proxy
 * with a static client id (confused deputy): before anything goes to the third-party authorization server the user
 * sees which MCP client asks, for which gateway user and which server, and approves that client; the approval is
 * recorded per client. The form carries a CSRF token matching a SameSite=Strict cookie, the page cannot be framed,
 * and the authorization request's state is bound to this browser by a cookie checked at the callback (single use,
 * ten minutes). No gateway key is involved: the link's ticket (random, ten minutes, single use) is the credential.
 */
@Controller('v1/mcp/oauth')
export class UpstreamOAuthController {
  private readonly log = new Logger(UpstreamOAuthController.name);

  constructor(
    @Inject(Bus) private readonly bus: Bus,
    @Inject(UpstreamUsers) private readonly users: UpstreamUsers,
  ) {}

  @Get(':server/authorize')
  async page(@Param('server') server: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    await this.answer(res, async () => {
      const ticket = ticketOf(new URL(req.url, 'http://x').searchParams.get('ticket'));
      const consent = await this.bus.call(DescribeUpstreamConsent, { ticket, server: serverName(server) }, { timeoutMs: CALL_TIMEOUT_MS });
      const csrf = randomBytes(24).toString('base64url');
      res.setHeader('Set-Cookie', this.cookie(req, CSRF_COOKIE, csrf, 'Strict'));
      this.html(res, 200, consentPage(consent, ticket, csrf), consent.authorization_origin);
    });
  }

  @Post(':server/authorize')
  async approve(@Param('server') server: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    await this.answer(res, async () => {
      const form = new URLSearchParams((await readBody(req, FORM_LIMIT_BYTES)).toString('utf8'));
      const csrf = cookieOf(req, CSRF_COOKIE);
      const sent = form.get('csrf') ?? '';
      if (!csrf || !sameText(csrf, sent)) {
        throw new DomainError('PERMISSION_DENIED', 'this approval did not come from the consent page in this browser: open the link again');
      }
      if (form.get('decision') !== 'approve') {
        this.html(res, 200, page('Not connected', `<p>Nothing was shared with ${escapeHtml(serverName(server))}. You can close this window.</p>`));
        return;
      }
      const binding = randomBytes(32).toString('base64url');
      const base = this.users.baseUrl(req.headers);
      const answer = await this.bus.call(
        ApproveUpstreamConsent,
        { ticket: ticketOf(form.get('ticket')), server: serverName(server), browser_binding: hash(binding), redirect_uri: `${base}/v1/mcp/oauth/callback` },
        { timeoutMs: CALL_TIMEOUT_MS },
      );
      if (answer.kind === 'done') {
        res.setHeader('Set-Cookie', this.cookie(req, CSRF_COOKIE, '', 'Strict', 0));
        this.html(res, 200, page('Connected', `<p>This client may now use your connection to <strong>${escapeHtml(answer.server_name)}</strong>. You can close this window and try again.</p>`));
        return;
      }
      // the callback comes back as a top-level navigation from the authorization server: Lax, not Strict
      res.setHeader('Set-Cookie', [this.cookie(req, FLOW_COOKIE, binding, 'Lax'), this.cookie(req, CSRF_COOKIE, '', 'Strict', 0)]);
      res.writeHead(303, { Location: answer.url, ...securityHeaders() });
      res.end();
    });
  }

  @Get('callback')
  async callback(@Req() req: Request, @Res() res: Response): Promise<void> {
    await this.answer(res, async () => {
      const binding = cookieOf(req, FLOW_COOKIE);
      if (!binding) throw new DomainError('PERMISSION_DENIED', 'this browser did not start this authorization (or it took longer than ten minutes): open the link again');
      const query = new URL(req.url, 'http://x').search;
      const done = await this.bus.call(
        CompleteUpstreamAuthorization,
        { callback_url: `${this.users.baseUrl(req.headers)}/v1/mcp/oauth/callback${query}`, browser_binding: hash(binding) },
        { timeoutMs: CALL_TIMEOUT_MS },
      );
      res.setHeader('Set-Cookie', this.cookie(req, FLOW_COOKIE, '', 'Lax', 0));
      this.html(res, 200, page('Connected', `<p>Your account is connected to <strong>${escapeHtml(done.server_name)}</strong>. You can close this window and try again in your MCP client.</p>`));
    });
  }

  /** Runs a step; a refusal becomes a page saying what happened (never a secret), with the status that fits. */
  private async answer(res: Response, step: () => Promise<void>): Promise<void> {
    try {
      await step();
    } catch (error) {
      if (res.headersSent) return void res.end();
      const known = error instanceof DomainError;
      if (!known) this.log.error(`upstream OAuth step failed: ${(error as Error).message}`);
      const status = known ? HTTP_STATUS_BY_CODE[error.code] : 500;
      const message = known ? error.message : 'Something went wrong; try again from the link your MCP client showed.';
      this.html(res, status, page('Not connected', `<p>${escapeHtml(message)}</p>`));
    }
  }

  private html(res: Response, status: number, body: string, formTarget?: string): void {
    res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', ...securityHeaders(formTarget) });
    res.end(body);
  }

  /** `__Host-` and Secure when the gateway is reached over https; HttpOnly always. */
  private cookie(req: Request, name: string, value: string, sameSite: 'Strict' | 'Lax', maxAge = COOKIE_MAX_AGE_S): string {
    const secure = this.users.baseUrl(req.headers).startsWith('https:');
    return `${secure ? '__Host-' : ''}${name}=${value}; Path=/; Max-Age=${maxAge}; HttpOnly; SameSite=${sameSite}${secure ? '; Secure' : ''}`;
  }
}

function cookieOf(req: Request, name: string): string | undefined {
  const header = req.headers.cookie ?? '';
  for (const part of header.split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name || key === `__Host-${name}`) return rest.join('=') || undefined;
  }
  return undefined;
}

function ticketOf(value: string | null): string {
  if (!value || !/^[A-Za-z0-9_-]{16,128}$/.test(value)) throw new DomainError('NOT_FOUND', 'this consent link is incomplete: open the whole link your MCP client showed');
  return value;
}

/** A path segment that can name a server, else 404 (nothing is looked up for it). */
export function serverName(value: string): string {
  if (!SERVER_NAME_PATTERN.test(value)) throw new DomainError('NOT_FOUND', 'no such MCP server');
  return value;
}

function hash(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(hash(a));
  const y = Buffer.from(hash(b));
  return timingSafeEqual(x, y);
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)} · Switchboard</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;color:#1b1b1b;background:#fff}
@media (prefers-color-scheme:dark){body{color:#eee;background:#161616}}dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}
dt{font-weight:600}button{font:inherit;padding:.5rem 1.25rem;margin-right:.5rem}</style></head>
<body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
}

function consentPage(consent: ReplyOf<typeof DescribeUpstreamConsent>, ticket: string, csrf: string): string {
  const client = consent.client_name ? `${consent.client_name} (${consent.client_id.slice(0, 8)}…)` : `${consent.client_id.slice(0, 8)}…`;
  const scopes = consent.scopes.length ? consent.scopes.join(' ') : '(the server’s default)';
  const next = consent.has_credential
    ? `<p>You have connected this account already: approving lets this client use that connection too.</p>`
    : `<p>Approving sends you to <strong>${escapeHtml(consent.authorization_origin)}</strong> to sign in and grant access; the token stays in the gateway and is never given to the client.</p>`;
  return page(
    `Connect ${consent.server_name}?`,
    `<p>An MCP client wants to use <strong>${escapeHtml(consent.server_name)}</strong> through Switchboard with your account there.</p>
<dl><dt>Client</dt><dd>${escapeHtml(client)}</dd><dt>Gateway user</dt><dd>${escapeHtml(consent.user_id)}</dd>
<dt>Server</dt><dd>${escapeHtml(consent.server_name)}${consent.server_description ? ` — ${escapeHtml(consent.server_description)}` : ''}</dd>
<dt>Access asked</dt><dd>${escapeHtml(scopes)}</dd></dl>
${next}
<p>Approve only if you started this from that client yourself.</p>
<form method="post"><input type="hidden" name="ticket" value="${escapeHtml(ticket)}"><input type="hidden" name="csrf" value="${escapeHtml(csrf)}">
<button type="submit" name="decision" value="approve">Approve</button><button type="submit" name="decision" value="deny">Deny</button></form>`,
  );
}
