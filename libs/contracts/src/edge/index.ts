import { z } from 'zod';
import { defineContract, defineEvent } from '../contract.js';
import { Subjects } from '../subjects.js';

export const SessionEnded = defineEvent('SessionEnded', Subjects.edge.sessionEnded, z.object({ session_id: z.string() }));

/**
 * A session's fields changed (its upstream sessions, a subscription, a log level): replicas drop their cached
 * copy and read it again from the store.
 */
export const SessionChanged = defineEvent('SessionChanged', Subjects.edge.sessionChanged, z.object({ session_id: z.string() }));

/** A server-to-client message for a session whose stream another edge replica holds: the holder writes it. */
export const SessionMessage = defineEvent(
  'SessionMessage',
  Subjects.edge.sessionMessage,
  z.object({ session_id: z.string(), message: z.string() }),
);

/**
 * A server-to-client message (JSON-RPC text) for one client session's stream. The subject names the session, and
 * only the edge replica holding that session's stream subscribes to it: the message goes there and nowhere else.
 */
export const sessionStreamEvent = (sessionId: string) =>
  defineEvent(`SessionStream(${sessionId})`, Subjects.edge.sessionStream(sessionId), z.object({ message: z.string() }));

/**
 * A client resumes a session's stream on another edge replica (Last-Event-ID names the replica that held it): that
 * replica gives up the stream and hands over the events after the client's last one (JSON-RPC texts, in order).
 */
export const streamHandoverContract = (instance: string) =>
  defineContract(
    `StreamHandover(${instance})`,
    Subjects.edge.instanceStreamHandover(instance),
    z.object({ session_id: z.string(), after: z.number().int() }),
    z.object({ messages: z.array(z.string()) }),
  );
