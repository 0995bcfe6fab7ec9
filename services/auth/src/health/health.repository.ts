import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { databaseAnswers } from '#libs/database';

@Injectable()
export class HealthRepository {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  postgresAnswers(): Promise<boolean> {
    return databaseAnswers(this.dataSource);
  }
}
