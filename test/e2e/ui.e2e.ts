import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAuthorizationServer, type AuthorizationServer } from '../fixtures/authorization-server.js';
import { startProtectedUpstream, type ProtectedUpstream } from '../fixtures/protected-upstream.js';
import {
  MODES,
  api,
  callApi,
  connectClient,
  freePort,
  generateKey,
  printLogsOnFailure,
  startEverything,
  startSuite,
  toolNames,
  waitForAudit,
  type HttpEverything,
  type Suite,
} from './support/index.js';

// Issue 11: the admin web UI at /ui, driven by a real browser (Debian's chromium through playwright-core) against the
// real gateway in both modes, with server-everything (Streamable HTTP) as the upstream added through the UI.
// Every page is screenshotted (1280 px wide and phone width) into test-results/ui/, checked with axe-core (no
// serious or critical violation), and any console error fails the test, except the 4xx answers the bad-input steps
// provoke on purpose (Chromium logs every failed fetch). An OAuth server (client credentials, against the fixture
// authorization server and a protected upstream) is added and edited through the form as well.

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SHOTS = join(ROOT, 'test-results/ui');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const PHONE = { width: 390, height: 844 };
/** The gateway's client at the fixture authorization server, for the OAuth server added through the form. */
const OAUTH_CLIENT = { client_id: 'ui-gateway', client_secret: 'ui-oauth-secret-0123456789' };
const DESKTOP = { width: 1280, height: 900 };

/** expect.poll with room for a loaded machine (its default is one second). */
const poll = <T>(check: () => T | Promise<T>, options: { timeout?: number } = {}) => expect.poll(check, { timeout: 15_000, ...options });

interface ConsoleError {
  text: string;
  url: string;
}

/** One browser tab on the gateway, with everything the checks need to see. */
class Tab {
  readonly consoleErrors: ConsoleError[] = [];
  readonly external: string[] = [];
  /** 4xx API answers provoked on purpose, by URL: Chromium's "Failed to load resource" for them is expected. */
  private readonly refusals = new Map<string, number>();
  private refusing = 0;
  scheme: 'light' | 'dark' = 'light';

  constructor(
    readonly page: Page,
    readonly base: string,
    private readonly mode: string,
  ) {
    page.on('console', (message) => {
      if (message.type() === 'error') this.consoleErrors.push({ text: message.text(), url: message.location().url });
    });
    page.on('pageerror', (error) => this.consoleErrors.push({ text: `uncaught: ${error.message}`, url: '' }));
    page.on('request', (request) => {
      const url = new URL(request.url());
      if (url.protocol !== 'data:' && url.origin !== new URL(base).origin) this.external.push(request.url());
    });
    page.on('response', (response) => {
      if (this.refusing > 0 && response.status() >= 400 && response.status() < 500 && !new URL(response.url()).pathname.startsWith('/ui')) {
        this.refusals.set(response.url(), (this.refusals.get(response.url()) ?? 0) + 1);
      }
    });
  }

  /** Runs a step that makes the API refuse something on purpose. */
  async refused<T>(step: () => Promise<T>): Promise<T> {
    this.refusing++;
    try {
      return await step();
    } finally {
      this.refusing--;
    }
  }

  /** Console errors that are not Chromium's notes about the refusals provoked on purpose. */
  unexpectedErrors(): ConsoleError[] {
    const allowance = new Map(this.refusals);
    return this.consoleErrors.filter((error) => {
      const left = allowance.get(error.url) ?? 0;
      if (/^Failed to load resource: the server responded with a status of 4\d\d/.test(error.text) && left > 0) {
        allowance.set(error.url, left - 1);
        return false;
      }
      return true;
    });
  }

  async title(text: string | RegExp): Promise<void> {
    await poll(() => this.page.locator('h1').first().textContent(), { timeout: 15_000 }).toMatch(text);
  }

  /** A screenshot into test-results/ui and an axe-core check of the page as it is now. */
  async record(name: string): Promise<void> {
    const width = this.page.viewportSize()?.width ?? 0;
    await this.page.screenshot({ path: join(SHOTS, `${this.mode}-${name}-${width}${this.scheme === 'dark' ? '-dark' : ''}.png`), fullPage: true });
    if (!(await this.page.evaluate('typeof axe !== "undefined"'))) await this.page.evaluate(AXE_SOURCE);
    const violations = (await this.page.evaluate(
      `axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5) })))`,
    )) as { id: string; impact: string; help: string; nodes: string[] }[];
    expect(
      violations.filter((v) => v.impact === 'serious' || v.impact === 'critical'),
      `axe on ${name} at ${width}px (${this.scheme})`,
    ).toEqual([]);
  }

  /** The message shown at a form field (the API's words). */
  fieldError(field: string) {
    return this.page.locator(`[data-field-error="${field}"]`).first();
  }

  button(name: string | RegExp) {
    return this.page.getByRole('button', { name, exact: typeof name === 'string' });
  }
}

describe.each(MODES)('%s', (mode) => {
  let suite: Suite | undefined;
  let everything: HttpEverything;
  let authorizationServer: AuthorizationServer;
  let protectedUpstream: ProtectedUpstream;
  let browser: Browser;
  let tab: Tab;
  let base: string;
  const clients: Client[] = [];
  const visited: { name: string; path: string; title: RegExp }[] = [];

  printLogsOnFailure(() => suite);

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    everything = await startEverything('streamableHttp');
    authorizationServer = await startAuthorizationServer({ scopes: ['mcp:tools'], clients: [{ ...OAUTH_CLIENT, grant_types: ['client_credentials'] }] });
    protectedUpstream = await startProtectedUpstream({ issuer: authorizationServer.issuer, jwksUri: authorizationServer.jwksUri, resourceScheme: 'ui' });
    suite = await startSuite({
      mode,
      // `existing` is there to be a duplicate name, and a server the key made in the UI must not see.
      config: { mcp_servers: { existing: { url: everything.url, transport: 'http', allow_all_keys: false } } },
    });
    base = suite.edgeUrls[0]!;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    const context = await browser.newContext({ viewport: DESKTOP });
    tab = new Tab(await context.newPage(), base, mode);
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await browser?.close();
    await suite?.stop();
    await everything?.stop();
    await protectedUpstream?.close();
    await authorizationServer?.close();
  });

  it('serves the built UI: hashed assets cached for a year, index.html revalidated, client routes answered with the app, no external source allowed', async () => {
    const index = await fetch(`${base}/ui`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toMatch(/text\/html/);
    expect(index.headers.get('cache-control')).toBe('no-cache');
    expect(index.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await index.text();
    const asset = /src="(\/ui\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(asset).toBeDefined();
    expect(html).not.toMatch(/https?:\/\//);
    const js = await fetch(`${base}${asset}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/javascript/);
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const route = await fetch(`${base}/ui/servers/some-id/edit`);
    expect(route.status).toBe(200);
    expect(await route.text()).toBe(html);
    expect((await fetch(`${base}/ui/assets/missing-abc.js`)).status).toBe(404);
    expect((await fetch(`${base}/ui/../package.json`)).status).not.toBe(200);
  });

  it('tests an unsaved server at LiteLLM\'s paths with the checks of saving, and stores nothing', async () => {
    const m = suite!.masterKey;
    const before = (await api<unknown[]>(base, m, '/v1/mcp/server')).length;
    const ok = await callApi(base, m, '/mcp-rest/test/connection', { url: everything.url, transport: 'http' });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ status: 'ok' });
    const listed = await callApi(base, m, '/mcp-rest/test/tools/list', { server_name: 'preview', url: everything.url });
    expect(listed.status).toBe(200);
    expect(listed.body.tools.map((t: { name: string }) => t.name)).toEqual(expect.arrayContaining(['echo', 'get-sum']));
    const down = await callApi(base, m, '/mcp-rest/test/connection', { url: `http://127.0.0.1:${await freePort()}/mcp` });
    expect(down.status).toBe(200);
    expect(down.body).toMatchObject({ status: 'error', error: 'UPSTREAM_UNAVAILABLE', details: { field: 'url' } });
    const badUrl = await callApi(base, m, '/mcp-rest/test/tools/list', { url: 'ftp://example.com/mcp' });
    expect(badUrl.status).toBe(400);
    expect(badUrl.body.error.details.fields[0].path).toBe('url');
    const metadata = await callApi(base, m, '/mcp-rest/test/connection', { url: 'http://169.254.169.254/mcp' });
    expect(metadata.status).toBe(400);
    expect(metadata.body.error.details.field).toBe('url');
    const admin = (await generateKey(suite!, { is_admin: true })).key;
    const stdio = await callApi(base, admin, '/mcp-rest/test/connection', { transport: 'stdio', command: process.execPath });
    expect(stdio.status).toBe(403);
    expect(stdio.body.error.details.field).toBe('command');
    const plain = (await generateKey(suite!, {})).key;
    expect((await callApi(base, plain, '/mcp-rest/test/connection', { url: everything.url })).status).toBe(403);
    expect((await api<unknown[]>(base, m, '/v1/mcp/server')).length).toBe(before);
  });

  it('signs in, adds a server after Test connection, calls a tool, creates a team and a key limited to that server, all pages accessible', { timeout: 300_000 }, async () => {
    const { page } = tab;
    const m = suite!.masterKey;
    const serverCount = async () => (await api<unknown[]>(base, m, '/v1/mcp/server')).length;

    // ---- sign in: a wrong key is refused at the key field -------------------------------------------------
    await page.goto(`${base}/ui/`);
    await tab.title('Switchboard admin');
    await tab.record('sign-in');
    const wrong = await callApi(base, 'sk-not-a-key-of-this-gateway', '/v1/mcp/server');
    expect(wrong.status).toBe(401);
    await page.getByLabel('API key').fill('sk-not-a-key-of-this-gateway');
    await tab.refused(async () => {
      await tab.button('Sign in').click();
      await poll(() => tab.fieldError('key').textContent()).toBe(wrong.body.error.message);
    });
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    await tab.record('sign-in-refused');
    await page.getByLabel('API key').fill(m);
    await tab.button('Sign in').click();
    await tab.title('MCP Servers');
    expect(page.url()).not.toContain(m);
    await page.locator('tr[data-server="existing"]').waitFor();
    await tab.record('servers');
    visited.push({ name: 'servers', path: '/servers', title: /^MCP Servers$/ });

    // ---- by keyboard: the skip link first, then the page's own link; the new page's title takes the focus ------
    await page.goto(`${base}/ui/servers`);
    await tab.title('MCP Servers');
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.textContent')).toBe('Skip to content');
    await page.getByRole('link', { name: 'Add New MCP Server' }).focus();
    await page.keyboard.press('Enter');
    await tab.title('Add New MCP Server');
    // the title takes the focus in an effect after the page renders: waited for, not assumed
    await poll(() => page.evaluate('document.activeElement.id')).toBe('page-title');
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.id')).toBe('server-name');

    // ---- Add New MCP Server: every bad input is answered at its field, and nothing is stored ---------------
    await tab.record('server-new');
    visited.push({ name: 'server-new', path: '/servers/new', title: /^Add New MCP Server$/ });
    const stored = await serverCount();
    const name = page.getByRole('textbox', { name: 'Name', exact: true });
    const url = page.getByRole('textbox', { name: 'URL', exact: true });

    await url.fill(everything.url);
    await tab.refused(async () => {
      await tab.button('Add server').click();
      await poll(() => tab.fieldError('server_name').textContent()).toMatch(/expected lowercase letters/);
    });
    await name.fill('ui_everything');
    for (const [bad, expected] of [
      ['ftp://example.com/mcp', 'expected an http(s) URL'],
      ['not a url', 'expected an http(s) URL'],
      ['http://169.254.169.254/mcp', /link-local/],
    ] as const) {
      await url.fill(bad);
      await tab.refused(async () => {
        await tab.button('Add server').click();
        await poll(() => tab.fieldError('url').textContent()).toMatch(expected);
      });
    }
    await tab.record('server-new-refused');
    // an unreachable server, on Test connection
    await url.fill(`http://127.0.0.1:${await freePort()}/mcp`);
    await tab.button('Test connection').click();
    await page.locator('[data-test-status="failed"]').waitFor();
    await poll(() => tab.fieldError('url').textContent()).toMatch(/unreachable/);
    // a name that is taken
    await name.fill('existing');
    await url.fill(everything.url);
    await tab.refused(async () => {
      await tab.button('Add server').click();
      await poll(() => tab.fieldError('server_name').textContent()).toBe('server_name "existing" already exists');
    });
    expect(await serverCount()).toBe(stored);

    // ---- the good one: Test connection, then pick from its real tools -----------------------------------------
    await name.fill('ui_everything');
    await page.getByLabel('Description').fill('server-everything, added through the UI');
    await tab.button('Test connection').click();
    await page.locator('[data-test-status="ok"]').waitFor({ timeout: 30_000 });
    await expect(tab.fieldError('url').count()).resolves.toBe(0);
    await page.getByLabel('All but the tools picked below (disallowed_tools)').check();
    await page.getByLabel('get-env', { exact: true }).check();
    await page.getByLabel('New access group').fill('ui_group');
    await tab.button('Create group').click();
    expect(await page.getByLabel('ui_group', { exact: true }).isChecked()).toBe(true);
    await tab.record('server-new-tested');
    await tab.button('Add server').click();

    // ---- its page: overview, tools, and a call through the generated form --------------------------------------
    await tab.title('ui_everything');
    const server = (await api<{ server_id: string; disallowed_tools: string[]; access_groups: string[] }[]>(base, m, '/v1/mcp/server')).find((s) => (s as { server_name?: string }).server_name === 'ui_everything')!;
    expect(server).toMatchObject({ disallowed_tools: ['get-env'], access_groups: ['ui_group'] });
    await page.locator('li[data-tool="echo"]').waitFor({ timeout: 30_000 });
    await expect(page.locator('li[data-tool="get-env"]').getAttribute('data-offered')).resolves.toBe('false');
    await tab.button('Try echo').click();
    await page.getByLabel(/^message/).fill('hello from the UI');
    await tab.button('Call echo').click();
    await poll(() => page.locator('[data-tool-result="ok"]').textContent(), { timeout: 20_000 }).toContain('Echo: hello from the UI');
    await tab.record('server');
    visited.push({ name: 'server', path: `/servers/${server.server_id}`, title: /^ui_everything$/ });
    // the tool's own validation, shown as its answer
    await tab.button('Close').click();
    await tab.button('Try get-sum').click();
    await page.getByLabel(/^a\b/).fill('not a number');
    await page.getByLabel(/^b\b/).fill('2');
    await tab.refused(async () => {
      await tab.button('Call get-sum').click();
      await page.locator('[data-tool-result="error"], [data-form-error]').first().waitFor({ timeout: 20_000 });
    });
    await tab.record('server-tool-refused');
    await page.getByRole('link', { name: 'Edit' }).click();
    await tab.title('Edit ui_everything');
    await poll(() => page.getByLabel('Description').inputValue()).toBe('server-everything, added through the UI');
    await tab.record('server-edit');
    visited.push({ name: 'server-edit', path: `/servers/${server.server_id}/edit`, title: /^Edit ui_everything$/ });
    await page.getByLabel('Description').fill('server-everything, edited in the UI');
    await tab.button('Save changes').click();
    await tab.title('ui_everything');
    await poll(() => page.locator('dl.facts').textContent()).toContain('server-everything, edited in the UI');
    expect((await api<{ description: string; disallowed_tools: string[] }>(base, m, `/v1/mcp/server/${server.server_id}`))).toMatchObject({
      description: 'server-everything, edited in the UI',
      disallowed_tools: ['get-env'],
    });

    // ---- a team limited to that server ----------------------------------------------------------------------
    await page.getByRole('link', { name: 'Teams' }).click();
    await tab.title('Teams');
    await page.getByLabel('Team name').fill('ui-team');
    await page.getByLabel('Limit the MCP servers of this team').check();
    await page.getByRole('group', { name: 'Allowed MCP servers' }).getByLabel('ui_everything', { exact: true }).check();
    await tab.button('Create team').click();
    await page.locator('tr[data-team="ui-team"]').waitFor();
    const teams = async () => (await api<{ teams: { team_id: string; team_alias: string }[] }>(base, m, '/team/list')).teams;
    const team = (await teams()).find((t) => t.team_alias === 'ui-team')!;
    expect(team).toMatchObject({ object_permission: { mcp_servers: ['ui_everything'], mcp_access_groups: [] } });
    // the same name again is refused at the name
    await page.getByLabel('Team name').fill('ui-team');
    await tab.refused(async () => {
      await tab.button('Create team').click();
      await poll(() => tab.fieldError('team_alias').textContent()).toBe('"ui-team" is already used by another team');
    });
    expect((await teams()).length).toBe(1);
    await tab.record('teams');
    visited.push({ name: 'teams', path: '/teams', title: /^Teams$/ });

    // ---- an organization (an empty name is refused) -------------------------------------------------------------
    await page.getByRole('link', { name: 'Organizations' }).click();
    await tab.title('Organizations');
    await tab.refused(async () => {
      await tab.button('Create organization').click();
      await poll(() => tab.fieldError('organization_alias').textContent()).toBe('expected a non-empty alias');
    });
    expect((await api<{ organizations: unknown[] }>(base, m, '/organization/list')).organizations).toEqual([]);
    await page.getByLabel('Organization name').fill('ui-org');
    await tab.button('Create organization').click();
    await page.locator('tr[data-organization="ui-org"]').waitFor();
    await tab.record('organizations');
    visited.push({ name: 'organizations', path: '/organizations', title: /^Organizations$/ });
    await page.getByRole('link', { name: 'ui-org' }).first().click();
    await tab.title('Organization ui-org');
    await tab.record('organization');
    const organizationId = (await api<{ organizations: { organization_id: string }[] }>(base, m, '/organization/list')).organizations[0]!.organization_id;
    visited.push({ name: 'organization', path: `/organizations/${organizationId}`, title: /^Organization ui-org$/ });

    // ---- a key in that team, limited to that server: shown once, then checked with the MCP client ------------
    await page.getByRole('link', { name: 'Keys' }).click();
    await tab.title('Keys');
    const keyCount = async () => (await api<{ total_count: number }>(base, m, '/key/list')).total_count;
    const keysBefore = await keyCount();
    await page.getByLabel('Alias').fill('ui-key');
    await page.getByLabel('Team').selectOption({ label: 'ui-team' });
    await page.getByLabel('Limit the MCP servers of this key').check();
    await page.getByRole('group', { name: 'Allowed MCP servers' }).getByLabel('ui_everything', { exact: true }).check();
    await page.getByLabel('Expires after').fill('soon');
    await tab.refused(async () => {
      await tab.button('Create key').click();
      await poll(() => tab.fieldError('duration').textContent()).toMatch(/^expected a duration like/);
    });
    expect(await keyCount()).toBe(keysBefore);
    await page.getByLabel('Expires after').fill('30d');
    await tab.button('Create key').click();
    const secret = page.locator('[data-new-secret]');
    await secret.waitFor();
    const key = await secret.inputValue();
    expect(key).toMatch(/^sk-/);
    await tab.button('Copy').click();
    await page.locator('tr[data-key="ui-key"]').waitFor();
    await tab.record('keys');
    visited.push({ name: 'keys', path: '/keys', title: /^Keys$/ });

    const client = await connectClient(`${base}/mcp`, key);
    clients.push(client);
    const names = await toolNames(client);
    expect(names.length).toBeGreaterThan(0);
    expect(new Set(names.map((n) => n.split('-')[0]))).toEqual(new Set(['ui_everything']));
    expect(names).toContain('ui_everything-echo');
    expect(names).not.toContain('ui_everything-get-env');
    const info = await api<{ info: { token: string; team_id: string } }>(base, m, `/key/info?key=${encodeURIComponent(key)}`);
    expect(info.info.team_id).toBe(team.team_id);

    // ---- the key's page: effective permissions, level by level ------------------------------------------------------
    await page.getByRole('link', { name: 'ui-key' }).click();
    await tab.title('Key ui-key');
    await page.locator('tr[data-server="ui_everything"][data-allowed="true"]').waitFor();
    await expect(page.locator('tr[data-server="existing"]').getAttribute('data-allowed')).resolves.toBe('false');
    await tab.record('key');
    visited.push({ name: 'key', path: `/keys/${info.info.token}`, title: /^Key ui-key$/ });
    // blocked from its page: the MCP endpoint refuses it from then on
    await tab.button('Block').click();
    await tab.button('Unblock').waitFor();
    await poll(async () => (await fetch(`${base}/mcp`, { method: 'POST', headers: { 'x-litellm-api-key': `Bearer ${key}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: '{}' })).status, { timeout: 5_000 }).toBe(401);
    await page.getByRole('link', { name: 'Teams' }).click();
    await page.getByRole('link', { name: 'ui-team' }).click();
    await tab.title('Team ui-team');
    await page.getByRole('link', { name: 'ui-key' }).waitFor();
    await tab.record('team');
    visited.push({ name: 'team', path: `/teams/${team.team_id}`, title: /^Team ui-team$/ });

    // ---- the audit log: the call made from the UI, in the table and the chart ------------------------------------
    await waitForAudit(suite!, { server_name: 'ui_everything', tool: 'echo' }, undefined, 15_000);
    await page.getByRole('link', { name: 'Audit log' }).click();
    await tab.title('Audit log');
    await page.getByRole('textbox', { name: 'Server', exact: true }).fill('ui_everything');
    await tab.button('Apply filters').click();
    await poll(() => page.locator('table[data-audit] tbody tr').count(), { timeout: 10_000 }).toBeGreaterThan(0);
    await poll(() => page.locator('figure.chart figcaption').first().textContent()).toContain('ui_everything');
    await tab.record('audit');
    visited.push({ name: 'audit', path: '/audit', title: /^Audit log$/ });

    // ---- every page again at phone width (reloaded: the key survives in this tab's sessionStorage) -----------
    // (in the dark colour scheme, so that both palettes pass the contrast checks)
    await page.setViewportSize(PHONE);
    await page.emulateMedia({ colorScheme: 'dark' });
    tab.scheme = 'dark';
    for (const visit of visited) {
      await page.goto(`${base}/ui${visit.path}`);
      await tab.title(visit.title);
      await page.locator('[role="status"]:has-text("Loading")').first().waitFor({ state: 'detached', timeout: 15_000 }).catch(() => undefined);
      await tab.record(visit.name);
    }
    await page.setViewportSize(DESKTOP);
    await page.emulateMedia({ colorScheme: 'light' });
    tab.scheme = 'light';

    // ---- signing out forgets the key -----------------------------------------------------------------------
    await tab.button('Sign out').click();
    await tab.title('Switchboard admin');
    expect(await page.evaluate('sessionStorage.length')).toBe(0);

    expect(tab.unexpectedErrors().map((e) => `${e.text} at ${e.url}`), 'console errors').toEqual([]);
    expect(tab.external, 'requests to other origins').toEqual([]);
  });

  it('adds an OAuth (client credentials) server in the form, shows its settings with the secret masked, and an edit that leaves the secret alone keeps it working', { timeout: 180_000 }, async () => {
    const m = suite!.masterKey;
    // a tab of its own: signed in afresh, its console checked on its own
    const context = await browser.newContext({ viewport: DESKTOP });
    const oauthTab = new Tab(await context.newPage(), base, mode);
    const { page } = oauthTab;
    const field = (label: string) => page.getByLabel(label, { exact: true });
    const clientId = page.getByRole('textbox', { name: 'Client ID', exact: true });
    const issued = () => authorizationServer.counters().tokensIssued.client_credentials ?? 0;
    try {
      await page.goto(`${base}/ui/`);
      await oauthTab.title('Switchboard admin');
      await page.getByLabel('API key').fill(m);
      await oauthTab.button('Sign in').click();
      await oauthTab.title('MCP Servers');
      await page.getByRole('link', { name: 'Add New MCP Server' }).click();
      await oauthTab.title('Add New MCP Server');
      await page.getByRole('textbox', { name: 'Name', exact: true }).fill('ui_oauth');
      await page.getByRole('textbox', { name: 'URL', exact: true }).fill(protectedUpstream.url);

      // ---- the fields of each choice: the authorization URL for the per-user flow, the RFC 8693 ones for token exchange
      await field('Authentication').selectOption('oauth2');
      expect(await field('OAuth flow').inputValue()).toBe('client_credentials');
      for (const absent of ['Credential', 'Authorization URL', 'Token exchange endpoint', 'Audience']) await expect(field(absent).count(), absent).resolves.toBe(0);
      await field('OAuth flow').selectOption('authorization_code');
      await field('Authorization URL').waitFor();
      await poll(() => page.locator('[data-consent-pattern]').textContent()).toContain(`${base}/v1/mcp/oauth/ui_oauth/authorize?ticket=`);
      await oauthTab.record('server-oauth-per-user-fields');
      await field('Authentication').selectOption('oauth2_token_exchange');
      await field('Token exchange endpoint').waitFor();
      await expect(field('OAuth flow').count()).resolves.toBe(0);
      await expect(field('Authorization URL').count()).resolves.toBe(0);
      await field('Authentication').selectOption('oauth2');
      await field('OAuth flow').selectOption('client_credentials');
      await expect(field('Authorization URL').count()).resolves.toBe(0);

      // ---- the API's rules, each answered at its field; nothing stored ------------------------------------------
      const stored = async () => (await api<{ server_name: string }[]>(base, m, '/v1/mcp/server')).some((s) => s.server_name === 'ui_oauth');
      await field('Token URL').fill(authorizationServer.tokenEndpoint);
      await oauthTab.refused(async () => {
        await oauthTab.button('Add server').click();
        await poll(() => oauthTab.fieldError('client_id').textContent()).toMatch(/required with auth_type oauth2/);
      });
      await clientId.fill(OAUTH_CLIENT.client_id);
      await oauthTab.refused(async () => {
        await oauthTab.button('Add server').click();
        await poll(() => oauthTab.fieldError('client_secret').textContent()).toMatch(/required with oauth2_flow client_credentials/);
      });
      await field('Client secret').fill(OAUTH_CLIENT.client_secret);
      await field('Token URL').fill('ftp://auth.example.com/token');
      await oauthTab.refused(async () => {
        await oauthTab.button('Add server').click();
        await poll(() => oauthTab.fieldError('token_url').textContent()).toBe('expected an http(s) URL');
      });
      await oauthTab.record('server-oauth-refused');
      expect(await stored()).toBe(false);

      // ---- Test connection with the unsaved settings, then save ---------------------------------------------------
      await field('Token URL').fill(authorizationServer.tokenEndpoint);
      await field('Scopes').fill('mcp:tools');
      await oauthTab.button('Test connection').click();
      await page.locator('[data-test-status="ok"]').waitFor({ timeout: 30_000 });
      await oauthTab.record('server-oauth-new');
      await oauthTab.button('Add server').click();

      // ---- its page: the settings, the secret masked, the tools reached with the machine token -----------------
      await oauthTab.title('ui_oauth');
      const shown = (name: string) => page.locator(`[data-oauth-field="${name}"]`).textContent();
      await poll(() => shown('client_secret')).toBe('****6789');
      expect(await shown('oauth2_flow')).toBe('client credentials');
      expect(await shown('client_id')).toBe(OAUTH_CLIENT.client_id);
      expect(await shown('token_url')).toBe(authorizationServer.tokenEndpoint);
      expect(await shown('scopes')).toBe('mcp:tools');
      await expect(page.locator('[data-consent-pattern]').count()).resolves.toBe(0);
      await page.locator('li[data-tool="whoami"]').waitFor({ timeout: 30_000 });
      expect(await page.content()).not.toContain(OAUTH_CLIENT.client_secret);
      await oauthTab.record('server-oauth');
      const server = (await api<{ server_id: string; server_name: string }[]>(base, m, '/v1/mcp/server')).find((s) => s.server_name === 'ui_oauth')!;

      // ---- listed; edited from its form: the description only ------------------------------------------------------
      await page.getByRole('link', { name: 'MCP Servers' }).click();
      await page.locator('tr[data-server="ui_oauth"]').waitFor();
      await page.getByRole('link', { name: 'ui_oauth', exact: true }).click();
      await oauthTab.title('ui_oauth');
      await page.getByRole('link', { name: 'Edit' }).click();
      await oauthTab.title('Edit ui_oauth');
      await poll(() => clientId.inputValue()).toBe(OAUTH_CLIENT.client_id);
      expect(await field('Authentication').inputValue()).toBe('oauth2');
      expect(await field('OAuth flow').inputValue()).toBe('client_credentials');
      expect(await field('Token URL').inputValue()).toBe(authorizationServer.tokenEndpoint);
      expect(await field('Scopes').inputValue()).toBe('mcp:tools');
      expect(await field('Client secret').inputValue()).toBe('');
      expect(await page.locator('#server-client-secret-hint').textContent()).toContain('****6789');
      await oauthTab.record('server-oauth-edit');
      const issuedBefore = issued();
      await page.getByLabel('Description').fill('OAuth upstream, edited in the UI');
      await oauthTab.button('Save changes').click();
      await oauthTab.title('ui_oauth');
      await poll(() => page.locator('dl.facts').first().textContent()).toContain('OAuth upstream, edited in the UI');
      await poll(() => shown('client_secret')).toBe('****6789');

      // ---- the admin API: the OAuth settings survived, the secret still set ------------------------------------------
      expect(await api(base, m, `/v1/mcp/server/${server.server_id}`)).toMatchObject({
        description: 'OAuth upstream, edited in the UI',
        auth_type: 'oauth2',
        auth_value: null,
        oauth2_flow: 'client_credentials',
        client_id: OAUTH_CLIENT.client_id,
        client_secret: '****6789',
        token_url: authorizationServer.tokenEndpoint,
        scopes: ['mcp:tools'],
        authorization_url: null,
        token_exchange_endpoint: null,
      });
      // ---- and it is still the right secret: the changed server (a new revision) gets a new machine token with it
      await poll(
        async () => {
          const call = await callApi(base, m, '/mcp-rest/tools/call', { server_id: server.server_id, name: 'whoami', arguments: {} });
          const text = (call.body as { content?: { text?: string }[] } | undefined)?.content?.[0]?.text ?? '';
          return issued() > issuedBefore && call.status === 200 && text.includes(`"client_id":"${OAUTH_CLIENT.client_id}"`);
        },
        { timeout: 30_000 },
      ).toBe(true);
      const counters = authorizationServer.counters();
      expect(counters.tokenRequests.client_credentials, 'no token request refused').toBe(counters.tokensIssued.client_credentials);
      expect(protectedUpstream.requests().filter((r) => r.refused && r.refused !== 'no session' && r.refused !== 'unknown session')).toEqual([]);

      // ---- a per-user server's page (added through the API; never reached here): where its users consent ----------
      const personal = await api<{ server_id: string }>(base, m, '/v1/mcp/server', {
        server_name: 'ui_personal',
        url: protectedUpstream.url,
        transport: 'http',
        auth_type: 'oauth2',
        oauth2_flow: 'authorization_code',
        client_id: 'ui-personal',
        authorization_url: authorizationServer.authorizationEndpoint,
        token_url: authorizationServer.tokenEndpoint,
        token_endpoint_auth_method: 'none',
      });
      await page.goto(`${base}/ui/servers/${personal.server_id}`);
      await oauthTab.title('ui_personal');
      await poll(() => page.locator('[data-consent-pattern]').textContent()).toBe(`${base}/v1/mcp/oauth/ui_personal/authorize?ticket=…`);
      expect(await shown('oauth2_flow')).toBe('authorization code, per user');
      expect(await shown('client_secret')).toBe('none stored');
      expect(await shown('authorization_url')).toBe(authorizationServer.authorizationEndpoint);
      await expect(page.getByText(`${base}/v1/mcp/oauth/callback`, { exact: true }).count()).resolves.toBe(1);
      await oauthTab.record('server-oauth-per-user');
      await page.setViewportSize(PHONE);
      await page.emulateMedia({ colorScheme: 'dark' });
      oauthTab.scheme = 'dark';
      // long URLs wrap: nothing wider than the phone
      const overflow = () => page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth');
      await oauthTab.record('server-oauth-per-user');
      expect(await overflow()).toBe(0);
      await page.goto(`${base}/ui/servers/${personal.server_id}/edit`);
      await oauthTab.title('Edit ui_personal');
      await field('Authorization URL').waitFor();
      await oauthTab.record('server-oauth-edit');
      expect(await overflow()).toBe(0);

      expect(oauthTab.unexpectedErrors().map((e) => `${e.text} at ${e.url}`), 'console errors').toEqual([]);
      expect(oauthTab.external, 'requests to other origins').toEqual([]);
    } finally {
      await context.close();
    }
  });
});
