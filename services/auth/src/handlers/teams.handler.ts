import { Controller, Inject } from '@nestjs/common';
import { Payload } from '@nestjs/microservices';
import { RpcHandler } from '#libs/bus';
import { DeleteTeams, GetTeamInfo, ListTeams, NewTeam, UpdateTeam } from '#libs/contracts';
import type { z } from 'zod';
import { TeamsService } from '../teams/teams.service.js';

type In<C extends { request: z.ZodType }> = z.output<C['request']>;

@Controller()
export class TeamsHandler {
  constructor(@Inject(TeamsService) private readonly teams: TeamsService) {}

  @RpcHandler(NewTeam)
  create(@Payload() request: In<typeof NewTeam>) {
    return this.teams.create(request);
  }

  @RpcHandler(UpdateTeam)
  update(@Payload() request: In<typeof UpdateTeam>) {
    return this.teams.update(request);
  }

  @RpcHandler(DeleteTeams)
  delete(@Payload() request: In<typeof DeleteTeams>) {
    return this.teams.delete(request.team_ids);
  }

  @RpcHandler(GetTeamInfo)
  info(@Payload() request: In<typeof GetTeamInfo>) {
    return this.teams.info(request.team_id);
  }

  @RpcHandler(ListTeams)
  list(@Payload() request: In<typeof ListTeams>) {
    return this.teams.list(request.organization_id);
  }
}
