import { DomainError, type Principal } from '#libs/contracts';

/** Entries of a `models` list that mean every model (LiteLLM's names). */
const EVERY_MODEL = new Set(['*', 'all-proxy-models']);

function allows(list: readonly string[] | undefined, model: string): boolean {
  return !list || list.length === 0 || list.some((entry) => EVERY_MODEL.has(entry) || entry === model);
}

/** LiteLLM's `models` of a key and of its team: each non-empty list restricts /v1 to its model_names. */
export function mayUseModel(principal: Principal, model: string): boolean {
  return allows(principal.models, model) && allows(principal.team_models, model);
}

/** 403 naming the model when the key or its team may not use it; anything else is llm-proxy's to judge. */
export function assertModelAllowed(principal: Principal, model: unknown): void {
  if (typeof model !== 'string') return;
  const level = !allows(principal.models, model) ? 'key' : !allows(principal.team_models, model) ? 'team' : undefined;
  if (!level) return;
  const list = level === 'key' ? principal.models! : principal.team_models!;
  throw new DomainError('PERMISSION_DENIED', `model: this ${level === 'key' ? 'key' : "key's team"} may not use model "${model}" (its models: ${list.join(', ')})`, {
    param: 'model',
    code: 'model_not_allowed',
    type: 'permission_error',
  });
}
