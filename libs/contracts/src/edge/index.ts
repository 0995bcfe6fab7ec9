import { z } from 'zod';
import { defineEvent } from '../contract.js';
import { Subjects } from '../subjects.js';

export const SessionEnded = defineEvent('SessionEnded', Subjects.edge.sessionEnded, z.object({ session_id: z.string() }));
