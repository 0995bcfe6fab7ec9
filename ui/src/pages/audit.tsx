import { useState } from 'preact/hooks';
import { get, query, type ApiError, type AuditRow } from '../api';
import { FormError, SelectField, TextField } from '../components/fields';
import { Badge, Loading, PageTitle } from '../components/layout';
import { useLoad } from '../hooks';
import { Pager } from './keys';
import { BUCKETS, bucketize, sum } from '../audit-buckets';

const PAGE_SIZE = 50;
/** The chart reads the newest rows matching the filters, up to the API's page limit. */
const CHART_ROWS = 500;

interface Filters {
  key_alias: string;
  team_id: string;
  server_name: string;
  tool: string;
  status: string;
  since: string;
  until: string;
}
const NO_FILTERS: Filters = { key_alias: '', team_id: '', server_name: '', tool: '', status: '', since: '', until: '' };

/** datetime-local text as the API wants it (ISO-8601 with an offset); left as typed when it is not a time. */
const isoOf = (local: string) => {
  if (!local) return undefined;
  const time = new Date(local);
  return Number.isNaN(time.getTime()) ? local : time.toISOString();
};

function params(filters: Filters) {
  return { ...filters, since: isoOf(filters.since), until: isoOf(filters.until) };
}

export function AuditPage() {
  const [draft, setDraft] = useState<Filters>(NO_FILTERS);
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const [page, setPage] = useState(1);
  const rows = useLoad((signal) => get<{ rows: AuditRow[]; total: number }>(`/v1/mcp/audit${query({ ...params(filters), page, page_size: PAGE_SIZE })}`, { signal }), [filters, page]);
  const recent = useLoad((signal) => get<{ rows: AuditRow[]; total: number }>(`/v1/mcp/audit${query({ ...params(filters), page: 1, page_size: CHART_ROWS })}`, { signal }), [filters]);
  const set = (key: keyof Filters) => (value: string) => setDraft((d) => ({ ...d, [key]: value }));
  const error: ApiError | undefined = rows.error;

  return (
    <>
      <PageTitle>Audit log</PageTitle>
      <section class="card" aria-labelledby="filters-title">
        <h2 id="filters-title">Filters</h2>
        <form
          class="form-grid filters"
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            setPage(1);
            setFilters({ ...draft });
          }}
        >
          <TextField id="audit-key" name="key_alias" label="Key alias" value={draft.key_alias} onValue={set('key_alias')} error={error} />
          <TextField id="audit-team" name="team_id" label="Team id" value={draft.team_id} onValue={set('team_id')} error={error} />
          <TextField id="audit-server" name="server_name" label="Server" value={draft.server_name} onValue={set('server_name')} error={error} />
          <TextField id="audit-tool" name="tool" label="Tool" value={draft.tool} onValue={set('tool')} error={error} />
          <SelectField
            id="audit-status"
            name="status"
            label="Status"
            value={draft.status}
            onValue={set('status')}
            error={error}
            options={[
              ['', 'Any'],
              ['success', 'success'],
              ['error', 'error'],
              ['timeout', 'timeout'],
              ['denied', 'denied'],
              ['input_required', 'input required'],
            ]}
          />
          <TextField id="audit-since" name="since" label="Since" type="datetime-local" value={draft.since} onValue={set('since')} error={error} />
          <TextField id="audit-until" name="until" label="Until" type="datetime-local" value={draft.until} onValue={set('until')} error={error} />
          <div class="wide actions">
            <button type="submit">Apply filters</button>
            <button
              type="button"
              class="secondary"
              onClick={() => {
                setDraft(NO_FILTERS);
                setFilters(NO_FILTERS);
                setPage(1);
              }}
            >
              Clear
            </button>
          </div>
        </form>
        <FormError error={error} fields={Object.keys(NO_FILTERS)} />
      </section>

      <section class="card" aria-labelledby="chart-title">
        <h2 id="chart-title">Calls and errors per server</h2>
        {recent.data ? <CallsChart rows={recent.data.rows} /> : recent.error ? null : <Loading what="the chart" />}
      </section>

      <section class="card" aria-labelledby="calls-title">
        <h2 id="calls-title">Calls {rows.data ? <span class="muted">({rows.data.total})</span> : null}</h2>
        {!rows.data ? (
          rows.error ? null : <Loading what="the audit log" />
        ) : rows.data.rows.length === 0 ? (
          <p>No call matches.</p>
        ) : (
          <>
            <div class="table-wrap" role="region" aria-label="Audit log" tabIndex={0}>
              <table data-audit class="stack">
                <thead>
                  <tr>
                    <th scope="col">Time</th>
                    <th scope="col">Key</th>
                    <th scope="col">Team</th>
                    <th scope="col">Server</th>
                    <th scope="col">Tool</th>
                    <th scope="col">Status</th>
                    <th scope="col" class="num">
                      ms
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {rows.data.rows.map((row) => (
                    <tr key={row.id}>
                      <td data-label="Time">{new Date(row.time).toLocaleString()}</td>
                      <td data-label="Key">{row.key_alias ?? (row.token_hash_prefix ? `${row.token_hash_prefix}…` : '—')}</td>
                      <td data-label="Team">{row.team_id ?? '—'}</td>
                      <td data-label="Server">{row.server_name}</td>
                      <td data-label="Tool">{row.tool}</td>
                      <td data-label="Status">
                        <Badge tone={row.status === 'success' ? 'ok' : row.status === 'denied' ? 'warn' : 'bad'}>{row.status}</Badge>
                        {row.error_code ? <span class="muted small"> {row.error_code}</span> : null}
                      </td>
                      <td class="num" data-label="ms">{row.duration_ms}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <Pager page={page} pages={Math.max(1, Math.ceil(rows.data.total / PAGE_SIZE))} onPage={setPage} />
          </>
        )}
      </section>
    </>
  );
}

function CallsChart(props: { rows: AuditRow[] }) {
  if (props.rows.length === 0) return <p>No call to chart.</p>;
  const { start, end, series } = bucketize(props.rows);
  const peak = Math.max(1, ...series.flatMap((s) => s.calls));
  const span = `${new Date(start).toLocaleString()} to ${new Date(end).toLocaleString()}`;
  return (
    <>
      <p class="muted small">
        The newest {props.rows.length} calls matching the filters, {span}, in {BUCKETS} equal slices. <span class="legend calls">calls</span> <span class="legend errors">errors, timeouts and denials</span>
      </p>
      <div class="charts">
        {series.map((s) => (
          <figure key={s.server} class="chart">
            <figcaption>
              {s.server}: {sum(s.calls)} calls, {sum(s.errors)} not successful
            </figcaption>
            <svg viewBox={`0 0 ${BUCKETS * 10} 60`} preserveAspectRatio="none" role="img" aria-label={`${s.server}: ${sum(s.calls)} calls and ${sum(s.errors)} errors from ${span}`}>
              {s.calls.map((calls, i) => {
                const h = (calls / peak) * 58;
                const e = (s.errors[i]! / peak) * 58;
                return (
                  <g key={i}>
                    <rect class="bar-calls" x={i * 10 + 1} y={60 - h} width={8} height={h} />
                    <rect class="bar-errors" x={i * 10 + 1} y={60 - e} width={8} height={e} />
                  </g>
                );
              })}
            </svg>
          </figure>
        ))}
      </div>
    </>
  );
}
