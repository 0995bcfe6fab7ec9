/**
 * Every NATS subject, and nowhere else. Calls: sb.v1.<service>.<resource>.<verb>;
 * events: sb.v1.<service>.events.<resource>.<past-tense>. A breaking change gets a new version subject.
 * A deployment (or a test run) may put a namespace in front of all of them: see libs/bus.
 */
export const Subjects = {
  registry: {
    listServers: 'sb.v1.registry.servers.list',
    getServer: 'sb.v1.registry.servers.get',
    createServer: 'sb.v1.registry.servers.create',
    updateServer: 'sb.v1.registry.servers.update',
    deleteServer: 'sb.v1.registry.servers.delete',
    resolveServer: 'sb.v1.registry.servers.resolve',
    /** Validates an unsaved server definition as saving would, and returns it as a connector needs it. */
    checkServer: 'sb.v1.registry.servers.check',
    serverHealth: 'sb.v1.registry.servers.health',
    getCatalog: 'sb.v1.registry.catalog.get',
    listAccessGroups: 'sb.v1.registry.access-groups.list',
    /** Upstream OAuth: a user's token (refreshed once across replicas), the consent page's steps, the callback. */
    upstreamToken: 'sb.v1.registry.upstream-oauth.token',
    describeUpstreamConsent: 'sb.v1.registry.upstream-oauth.consent.describe',
    approveUpstreamConsent: 'sb.v1.registry.upstream-oauth.consent.approve',
    completeUpstreamAuthorization: 'sb.v1.registry.upstream-oauth.authorization.complete',
    listUpstreamGrants: 'sb.v1.registry.upstream-oauth.grants.list',
    revokeUpstreamGrant: 'sb.v1.registry.upstream-oauth.grants.revoke',
    upstreamCredentialChanged: 'sb.v1.registry.events.upstream-credentials.changed',
    serversChanged: 'sb.v1.registry.events.servers.changed',
    catalogChanged: 'sb.v1.registry.events.catalog.changed',
  },
  connector: {
    upstreamRequest: 'sb.v1.connector.upstream.request',
    fetchCatalog: 'sb.v1.connector.catalog.fetch',
    /** Connects to an inline (unsaved) server definition once: the admin UI's "Test connection". */
    probeServer: 'sb.v1.connector.servers.probe',
    upstreamListChanged: 'sb.v1.connector.events.upstream.list-changed',
    /** A connector replica started answering: the registry fetches again the servers no connector answered for. */
    connectorStarted: 'sb.v1.connector.events.replicas.started',
    /** A client cancelled a request it sent (`notifications/cancelled`): the connector running it tells the upstream. */
    upstreamCancelled: 'sb.v1.connector.events.upstream.cancelled',
    /**
     * One connector instance (its per-client upstream sessions live there): forwarded requests for those sessions,
     * and the client's answers to that instance's server-to-client requests. Served by that instance alone.
     */
    instanceUpstreamRequest: (instance: string) => `sb.v1.connector.instances.${instance}.upstream.request`,
    instanceClientResponse: (instance: string) => `sb.v1.connector.instances.${instance}.client-response`,
    instanceClientNotification: (instance: string) => `sb.v1.connector.instances.${instance}.client-notification`,
  },
  auth: {
    verifyKey: 'sb.v1.auth.keys.verify',
    keysChanged: 'sb.v1.auth.events.keys.changed',
    /** An OAuth access token's Principal (its user, team and organization); teams/organizations changed (edges' caches). */
    resolveTokenPrincipal: 'sb.v1.auth.tokens.principal',
    teamsChanged: 'sb.v1.auth.events.teams.changed',
    generateKey: 'sb.v1.auth.keys.generate',
    updateKey: 'sb.v1.auth.keys.update',
    deleteKeys: 'sb.v1.auth.keys.delete',
    getKeyInfo: 'sb.v1.auth.keys.info',
    listKeys: 'sb.v1.auth.keys.list',
    newTeam: 'sb.v1.auth.teams.create',
    updateTeam: 'sb.v1.auth.teams.update',
    deleteTeams: 'sb.v1.auth.teams.delete',
    getTeamInfo: 'sb.v1.auth.teams.info',
    listTeams: 'sb.v1.auth.teams.list',
    newOrganization: 'sb.v1.auth.organizations.create',
    updateOrganization: 'sb.v1.auth.organizations.update',
    deleteOrganizations: 'sb.v1.auth.organizations.delete',
    getOrganizationInfo: 'sb.v1.auth.organizations.info',
    listOrganizations: 'sb.v1.auth.organizations.list',
    /** Fire-and-forget batches of audit records; auth consumes them in the queue group `auth` (one replica stores each). */
    writeAudit: 'sb.v1.auth.audit.write',
    queryAudit: 'sb.v1.auth.audit.query',
  },
  llm: {
    listModels: 'sb.v1.llm.models.list',
    chatCompletions: 'sb.v1.llm.chat-completions.create',
    createResponse: 'sb.v1.llm.responses.create',
    getResponse: 'sb.v1.llm.responses.get',
    querySpend: 'sb.v1.llm.spend.query',
    keySpend: 'sb.v1.llm.spend.by-key',
    /** The client of an LLM request went away: whichever llm-proxy replica runs it stops it. */
    requestCancelled: 'sb.v1.llm.events.requests.cancelled',
  },
  edge: {
    sessionEnded: 'sb.v1.edge.events.sessions.ended',
    sessionChanged: 'sb.v1.edge.events.sessions.changed',
    sessionMessage: 'sb.v1.edge.events.sessions.message',
    /** Messages for one client session's stream (GET /mcp or legacy /sse): only the replica holding it subscribes. */
    sessionStream: (sessionId: string) => `sb.v1.edge.sessions.${sessionId}.stream`,
    /** One edge replica: hands a session's stream over (the events a resuming client missed) to another replica. */
    instanceStreamHandover: (instance: string) => `sb.v1.edge.instances.${instance}.stream-handover`,
  },
  /**
   * The public admin API (docs/nats-api.md), answered by the edge: every request carries the master key or an
   * admin key in `meta.authorization`, and the edge forwards it to the internal subjects above. These are the only
   * subjects the admin NATS user of deploy/nats may publish to.
   */
  admin: {
    listServers: 'sb.v1.admin.servers.list',
    getServer: 'sb.v1.admin.servers.get',
    createServer: 'sb.v1.admin.servers.create',
    updateServer: 'sb.v1.admin.servers.update',
    deleteServer: 'sb.v1.admin.servers.delete',
    testServer: 'sb.v1.admin.servers.test',
    serverHealth: 'sb.v1.admin.servers.health',
    createKey: 'sb.v1.admin.keys.create',
    updateKey: 'sb.v1.admin.keys.update',
    deleteKeys: 'sb.v1.admin.keys.delete',
    getKey: 'sb.v1.admin.keys.get',
    listKeys: 'sb.v1.admin.keys.list',
    createTeam: 'sb.v1.admin.teams.create',
    updateTeam: 'sb.v1.admin.teams.update',
    deleteTeams: 'sb.v1.admin.teams.delete',
    getTeam: 'sb.v1.admin.teams.get',
    listTeams: 'sb.v1.admin.teams.list',
    createOrganization: 'sb.v1.admin.organizations.create',
    updateOrganization: 'sb.v1.admin.organizations.update',
    deleteOrganizations: 'sb.v1.admin.organizations.delete',
    getOrganization: 'sb.v1.admin.organizations.get',
    listOrganizations: 'sb.v1.admin.organizations.list',
    listTools: 'sb.v1.admin.tools.list',
    callTool: 'sb.v1.admin.tools.call',
    explainPermissions: 'sb.v1.admin.permissions.explain',
    queryAudit: 'sb.v1.admin.audit.query',
    listUpstreamGrants: 'sb.v1.admin.upstream-grants.list',
    revokeUpstreamGrant: 'sb.v1.admin.upstream-grants.revoke',
  },
  health: {
    /** Every service answers its own ping; readiness asks each one. */
    ping: (service: string) => `sb.v1.${service}.health.ping`,
  },
} as const;
