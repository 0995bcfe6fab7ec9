import { z } from 'zod';
import { defineContract } from '../contract.js';
import { Subjects } from '../subjects.js';

export const ModelCard = z.object({ id: z.string(), object: z.literal('model'), created: z.number(), owned_by: z.string() });
export const ListModels = defineContract(
  'ListModels',
  Subjects.llm.listModels,
  z.object({}),
  z.object({ object: z.literal('list'), data: z.array(ModelCard) }),
);
