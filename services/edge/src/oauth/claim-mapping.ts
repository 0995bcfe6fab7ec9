import type { JWTPayload } from 'jose';
import type { EntityReference } from '#libs/contracts';
import { InvalidToken } from './issuer-keys.js';
import type { IssuerPolicy } from './resource-settings.js';

/** Who a validated token names, and from which claims (what /v1/mcp/permissions explains). */
export interface TokenIdentity {
  user_id: string;
  team: EntityReference | null;
  organization: EntityReference | null;
  /** The claims read and the values found (a configured default says so). */
  claims: Record<string, unknown>;
}

/** A claim by name or dotted path (`realm_access.team`). */
export function claimAt(claims: JWTPayload, path: string): unknown {
  if (path in claims) return claims[path];
  let node: unknown = claims;
  for (const part of path.split('.')) {
    if (!node || typeof node !== 'object' || Array.isArray(node)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

const scalar = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : typeof value === 'number' ? String(value) : undefined);

/**
 * A team or organization claim → one reference. A mapped value (alias map) names an id or alias; an unmapped one
 * is read as the claim's kind (id or alias). A list claim (`groups`) must settle on exactly one: the values the
 * map knows, else its only value; several different ones are refused rather than picked by order.
 */
function referenceFrom(value: unknown, by: 'id' | 'alias', map: Record<string, string>, what: string): EntityReference | null {
  const values = (Array.isArray(value) ? value : [value]).map(scalar).filter((v): v is string => v !== undefined);
  if (values.length === 0) return null;
  const mapped = [...new Set(values.filter((v) => Object.hasOwn(map, v)).map((v) => map[v]!))];
  if (mapped.length === 1) return { by: 'id_or_alias', value: mapped[0]! };
  if (mapped.length > 1) throw new InvalidToken(`the token's ${what} claim maps to several ${what}s`);
  const distinct = [...new Set(values)];
  if (distinct.length > 1) throw new InvalidToken(`the token's ${what} claim names several ${what}s and none is mapped`);
  return { by, value: distinct[0]! };
}

export function identityOf(policy: IssuerPolicy, claims: JWTPayload): TokenIdentity {
  const used: Record<string, unknown> = {};
  const user = scalar(claimAt(claims, policy.userField));
  if (user === undefined) throw new InvalidToken(`the token has no user claim (${policy.userField})`);
  used[policy.userField] = user;

  let team: EntityReference | null = null;
  if (policy.team) {
    const value = claimAt(claims, policy.team.field);
    used[policy.team.field] = value ?? null;
    team = referenceFrom(value, policy.team.by, policy.teamAliasMap, 'team');
  }
  if (!team && policy.teamDefault) {
    team = { by: 'id_or_alias', value: policy.teamDefault };
    used.team_id_default = policy.teamDefault;
  }

  let organization: EntityReference | null = null;
  if (policy.organization) {
    const value = claimAt(claims, policy.organization.field);
    used[policy.organization.field] = value ?? null;
    organization = referenceFrom(value, policy.organization.by, policy.organizationAliasMap, 'organization');
  }
  return { user_id: user, team, organization, claims: used };
}
