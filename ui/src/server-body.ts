// What the server form sends: the bodies of POST and PUT /v1/mcp/server (and of the test endpoints), built from what
// is typed. The API judges every value; this only decides which fields go, and how an emptied one is cleared.
import type { AuthType, OAuth2Flow, ServerOAuthSettings, ServerView, TokenEndpointAuthMethod, Transport } from './api';

export interface FormState {
  server_name: string;
  alias: string;
  description: string;
  transport: Transport;
  url: string;
  command: string;
  args: string;
  env: [string, string][];
  envTouched: boolean;
  auth_type: AuthType;
  auth_value: string;
  static_headers: [string, string][];
  extra_headers: string;
  access_groups: string[];
  allow_all_keys: boolean;
  timeout: string;
  toolFilter: 'all' | 'allowed' | 'disallowed';
  tools: string[];
  // OAuth toward the upstream (auth_type oauth2 / oauth2_token_exchange)
  oauth2_flow: OAuth2Flow;
  client_id: string;
  /** Typed again only: the stored one is never shown, and kept while this stays empty. */
  client_secret: string;
  token_url: string;
  authorization_url: string;
  /** Separated by spaces, commas or lines; sent as a list. */
  scopes: string;
  /** '' = the API's default (client_secret_basic with a secret, else none). */
  token_endpoint_auth_method: '' | TokenEndpointAuthMethod;
  issuer: string;
  token_exchange_endpoint: string;
  audience: string;
  subject_token_type: string;
}

export const EMPTY_FORM: FormState = {
  server_name: '',
  alias: '',
  description: '',
  transport: 'http',
  url: '',
  command: '',
  args: '',
  env: [],
  envTouched: false,
  auth_type: 'none',
  auth_value: '',
  static_headers: [],
  extra_headers: '',
  access_groups: [],
  allow_all_keys: false,
  timeout: '',
  toolFilter: 'all',
  tools: [],
  oauth2_flow: 'client_credentials',
  client_id: '',
  client_secret: '',
  token_url: '',
  authorization_url: '',
  scopes: '',
  token_endpoint_auth_method: '',
  issuer: '',
  token_exchange_endpoint: '',
  audience: '',
  subject_token_type: '',
};

export type OAuthField = keyof ServerOAuthSettings;
export const OAUTH_FIELDS: readonly OAuthField[] = [
  'oauth2_flow',
  'client_id',
  'client_secret',
  'token_url',
  'authorization_url',
  'scopes',
  'token_endpoint_auth_method',
  'issuer',
  'token_exchange_endpoint',
  'audience',
  'subject_token_type',
];

export const isOAuth = (authType: AuthType): boolean => authType === 'oauth2' || authType === 'oauth2_token_exchange';

/**
 * The OAuth fields that apply to what the form says now: none without OAuth; `authorization_url` only for the
 * authorization_code flow; the RFC 8693 ones only for token exchange (which has no flow); the client secret not for
 * a public client (token_endpoint_auth_method none).
 */
export function oauthFieldsFor(form: Pick<FormState, 'auth_type' | 'oauth2_flow' | 'token_endpoint_auth_method'>): Set<OAuthField> {
  if (!isOAuth(form.auth_type)) return new Set();
  const fields = new Set<OAuthField>(['client_id', 'token_url', 'scopes', 'token_endpoint_auth_method', 'issuer']);
  if (form.token_endpoint_auth_method !== 'none') fields.add('client_secret');
  if (form.auth_type === 'oauth2') {
    fields.add('oauth2_flow');
    if (form.oauth2_flow === 'authorization_code') fields.add('authorization_url');
  } else {
    fields.add('token_exchange_endpoint');
    fields.add('audience');
    fields.add('subject_token_type');
  }
  return fields;
}

/** The static credential (auth_value) goes with the header-based auth types only. */
export const usesAuthValue = (authType: AuthType): boolean => authType !== 'none' && !isOAuth(authType);

export const rowsOf = (record: Record<string, string> | null | undefined): [string, string][] => Object.entries(record ?? {});
export const recordOf = (rows: [string, string][]): Record<string, string> => Object.fromEntries(rows.filter(([k]) => k.trim() !== '').map(([k, v]) => [k.trim(), v]));
export const linesOf = (text: string): string[] =>
  text
    .split(/\n|,/)
    .map((s) => s.trim())
    .filter(Boolean);
/** Scopes as typed: separated by spaces (as OAuth writes them), commas or lines. */
export const scopesOf = (text: string): string[] => [...new Set(text.split(/[\s,]+/).filter(Boolean))];

export function fromView(view: ServerView): FormState {
  return {
    ...EMPTY_FORM,
    server_name: view.server_name,
    alias: view.alias ?? '',
    description: view.description ?? '',
    transport: view.transport,
    url: view.url ?? '',
    command: view.command ?? '',
    args: view.args.join('\n'),
    env: rowsOf(view.env),
    auth_type: view.auth_type,
    static_headers: rowsOf(view.static_headers),
    extra_headers: view.extra_headers.join(', '),
    access_groups: [...view.access_groups],
    allow_all_keys: view.allow_all_keys,
    timeout: view.timeout === null ? '' : String(view.timeout),
    toolFilter: view.allowed_tools ? 'allowed' : view.disallowed_tools ? 'disallowed' : 'all',
    tools: [...(view.allowed_tools ?? view.disallowed_tools ?? [])],
    oauth2_flow: view.oauth2_flow ?? EMPTY_FORM.oauth2_flow,
    client_id: view.client_id ?? '',
    token_url: view.token_url ?? '',
    authorization_url: view.authorization_url ?? '',
    scopes: (view.scopes ?? []).join(' '),
    token_endpoint_auth_method: view.token_endpoint_auth_method ?? '',
    issuer: view.issuer ?? '',
    token_exchange_endpoint: view.token_exchange_endpoint ?? '',
    audience: view.audience ?? '',
    subject_token_type: view.subject_token_type ?? '',
  };
}

/** A number when the text is one, else the text itself (so the API names the field). */
const numberOrText = (text: string): number | string => (text.trim() !== '' && Number.isFinite(Number(text)) ? Number(text) : text);

/** The value of an OAuth field as typed, or undefined when empty (the secret is never trimmed: it is sent as typed). */
function oauthValue(form: FormState, field: OAuthField): unknown {
  switch (field) {
    case 'oauth2_flow':
      return form.oauth2_flow;
    case 'client_secret':
      return form.client_secret === '' ? undefined : form.client_secret;
    case 'scopes': {
      const scopes = scopesOf(form.scopes);
      return scopes.length ? scopes : undefined;
    }
    case 'token_endpoint_auth_method':
      return form.token_endpoint_auth_method || undefined;
    default:
      return form[field].trim() || undefined;
  }
}

/** The body of POST /v1/mcp/server (and of the test endpoints): only what is filled in, and only what applies. */
export function createBody(form: FormState): Record<string, unknown> {
  const body: Record<string, unknown> = { server_name: form.server_name.trim(), transport: form.transport };
  if (form.alias.trim()) body.alias = form.alias.trim();
  if (form.description.trim()) body.description = form.description.trim();
  if (form.transport === 'stdio') {
    body.command = form.command.trim();
    body.args = form.args.split('\n').map((a) => a.trim()).filter(Boolean);
    body.env = recordOf(form.env);
  } else {
    body.url = form.url.trim();
  }
  body.auth_type = form.auth_type;
  if (usesAuthValue(form.auth_type) && form.auth_value) body.auth_value = form.auth_value;
  for (const field of oauthFieldsFor(form)) {
    const value = oauthValue(form, field);
    if (value !== undefined) body[field] = value;
  }
  body.static_headers = recordOf(form.static_headers);
  body.extra_headers = linesOf(form.extra_headers);
  body.access_groups = form.access_groups;
  body.allow_all_keys = form.allow_all_keys;
  if (form.timeout.trim()) body.timeout = numberOrText(form.timeout);
  if (form.toolFilter === 'allowed') body.allowed_tools = form.tools;
  if (form.toolFilter === 'disallowed') body.disallowed_tools = form.tools;
  return body;
}

const isSet = (value: unknown): boolean => value !== undefined && value !== null && !(Array.isArray(value) && value.length === 0);

/**
 * The body of PUT /v1/mcp/server (a field left out keeps its stored value, `null` clears it): every field that
 * applies, `null` for what was emptied; secrets only when typed again (an empty secret field keeps the stored one);
 * a field that does not apply (any more) is cleared when the server has it stored, and otherwise not sent.
 */
export function updateBody(form: FormState, stored: ServerView): Record<string, unknown> {
  const body = createBody(form);
  delete body.server_name;
  const stdio = form.transport === 'stdio';
  const update: Record<string, unknown> = {
    ...body,
    server_id: stored.server_id,
    server_name: form.server_name.trim(),
    alias: form.alias.trim() || null,
    description: form.description.trim() || null,
    url: stdio ? null : form.url.trim(),
    command: stdio ? form.command.trim() : null,
    timeout: form.timeout.trim() ? numberOrText(form.timeout) : null,
    allowed_tools: form.toolFilter === 'allowed' ? form.tools : null,
    disallowed_tools: form.toolFilter === 'disallowed' ? form.tools : null,
  };
  if (!usesAuthValue(form.auth_type) && isSet(stored.auth_value)) update.auth_value = null;
  const applies = oauthFieldsFor(form);
  for (const field of OAUTH_FIELDS) {
    if (applies.has(field)) {
      // the secret: sent when typed, else kept (left out)
      if (field !== 'client_secret' && update[field] === undefined) update[field] = null;
    } else if (isSet(stored[field])) {
      update[field] = null;
    }
  }
  // Stored env values are shown masked: they are sent back only when changed here.
  if (!form.envTouched) delete update.env;
  return update;
}
