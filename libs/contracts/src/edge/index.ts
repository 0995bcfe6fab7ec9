import { z } from 'zod';
import { defineEvent } from '../contract.js';
import { Subjects } from '../subjects.js';

export const SessionEnded = defineEvent('SessionEnded', Subjects.edge.sessionEnded, z.object({ session_id: z.string() }));

/** A server-to-client message for a session whose stream another edge replica holds: the holder writes it. */
export const SessionMessage = defineEvent(
  'SessionMessage',
  Subjects.edge.sessionMessage,
  z.object({ session_id: z.string(), message: z.string() }),
);
