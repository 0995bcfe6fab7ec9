import type { DataSource } from 'typeorm';
import { describe, expect, it } from 'vitest';
import { databaseAnswers } from './data-source.js';

const answering = (query: () => Promise<unknown>) => ({ query }) as unknown as DataSource;

describe('databaseAnswers', () => {
  it('is true when SELECT 1 answers, false when it fails', async () => {
    await expect(databaseAnswers(answering(async () => [{ '?column?': 1 }]))).resolves.toBe(true);
    await expect(databaseAnswers(answering(async () => Promise.reject(new Error('ECONNREFUSED'))))).resolves.toBe(false);
  });

  it('is false when the database hangs, once its time is up', async () => {
    await expect(databaseAnswers(answering(() => new Promise(() => undefined)), 20)).resolves.toBe(false);
  });
});
