import { Inject, Injectable } from '@nestjs/common';
import { DataSource, QueryFailedError, type EntityManager } from 'typeorm';
import { DomainError } from '#libs/contracts';
import { KeyRepository } from '../keys/key.repository.js';
import { OrganizationRepository } from '../organizations/organization.repository.js';
import { TeamRepository } from '../teams/team.repository.js';

/** The repositories of one transaction (or of plain reads). */
export interface AuthRepositories {
  keys: KeyRepository;
  teams: TeamRepository;
  organizations: OrganizationRepository;
}

/** Constraint names of the migration → the request field a violation is about. */
const CONSTRAINT_FIELDS: Record<string, { code: 'CONFLICT' | 'NOT_FOUND'; field: string; message: string }> = {
  keys_alias_unique: { code: 'CONFLICT', field: 'key_alias', message: 'key_alias is already used by another key' },
  keys_pkey: { code: 'CONFLICT', field: 'key', message: 'this key already exists' },
  keys_team_fk: { code: 'NOT_FOUND', field: 'team_id', message: 'team_id does not name an existing team' },
  teams_alias_unique: { code: 'CONFLICT', field: 'team_alias', message: 'team_alias is already used by another team' },
  teams_pkey: { code: 'CONFLICT', field: 'team_id', message: 'team_id is already taken' },
  teams_organization_fk: { code: 'NOT_FOUND', field: 'organization_id', message: 'organization_id does not name an existing organization' },
  organizations_alias_unique: { code: 'CONFLICT', field: 'organization_alias', message: 'organization_alias is already used by another organization' },
  organizations_pkey: { code: 'CONFLICT', field: 'organization_id', message: 'organization_id is already taken' },
};

/**
 * Every write runs in one transaction, so nothing is half-written. The services check for conflicts first to give
 * precise errors; a race that slips past them still ends as the right DomainError through the constraint names.
 */
@Injectable()
export class UnitOfWork {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  static repositories(manager: EntityManager): AuthRepositories {
    return { keys: new KeyRepository(manager), teams: new TeamRepository(manager), organizations: new OrganizationRepository(manager) };
  }

  /** Runs `work` in a transaction; rolls back on any error. */
  async transaction<T>(work: (repos: AuthRepositories) => Promise<T>): Promise<T> {
    try {
      return await this.dataSource.transaction((manager) => work(UnitOfWork.repositories(manager)));
    } catch (error) {
      throw toDomainError(error);
    }
  }

  /** Plain reads, no transaction. */
  async read<T>(work: (repos: AuthRepositories) => Promise<T>): Promise<T> {
    return work(UnitOfWork.repositories(this.dataSource.manager));
  }
}

export function toDomainError(error: unknown): unknown {
  if (!(error instanceof QueryFailedError)) return error;
  const driver = (error as QueryFailedError & { driverError?: { code?: string; constraint?: string } }).driverError;
  const known = driver?.constraint ? CONSTRAINT_FIELDS[driver.constraint] : undefined;
  if (known && (driver?.code === '23505' || driver?.code === '23503')) {
    return new DomainError(known.code, known.message, { field: known.field });
  }
  if (driver?.code === '23503') return new DomainError('CONFLICT', 'the record is still referenced', { constraint: driver.constraint });
  return error;
}
