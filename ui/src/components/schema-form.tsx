import { useState } from 'preact/hooks';
import type { ApiError, CallToolResult, JsonSchema } from '../api';
import { argumentsOf, initial, kindOf } from '../schema-args';

// A form generated from a tool's JSON Schema (its inputSchema): one input per property, typed by the schema;
// anything the form cannot express (nested objects, arrays of objects) is a JSON text area.

export function SchemaForm(props: { id: string; schema: JsonSchema; submitLabel: string; pending: boolean; error: ApiError | undefined; onCall: (args: Record<string, unknown>) => void }) {
  const properties = Object.entries(props.schema.properties ?? {});
  const required = new Set(props.schema.required ?? []);
  const [values, setValues] = useState<Record<string, string>>(() => Object.fromEntries(properties.map(([name, schema]) => [name, kindOf(schema) === 'boolean' ? String(schema.default === true) : initial(schema)])));
  const set = (name: string, value: string) => setValues((v) => ({ ...v, [name]: value }));

  return (
    <form
      class="schema-form"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        props.onCall(argumentsOf(props.schema, values));
      }}
    >
      {properties.length === 0 ? <p class="muted">This tool takes no arguments.</p> : null}
      {properties.map(([name, schema]) => {
        const id = `${props.id}-${name}`;
        const kind = kindOf(schema);
        const message = props.error?.field(name) ?? props.error?.field(`arguments.${name}`);
        const describedBy = [schema.description ? `${id}-hint` : '', message ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined;
        const common = { id, name, 'aria-invalid': message ? ('true' as const) : undefined, 'aria-describedby': describedBy, 'aria-required': required.has(name) ? ('true' as const) : undefined };
        return (
          <div class={`field${kind === 'boolean' ? ' checkbox' : ''}${message ? ' has-error' : ''}`} key={name}>
            {kind === 'boolean' ? <input type="checkbox" {...common} checked={values[name] === 'true'} onChange={(e) => set(name, String((e.currentTarget as HTMLInputElement).checked))} /> : null}
            <label for={id}>
              {schema.title ?? name}
              {required.has(name) ? <span class="required" aria-hidden="true"> *</span> : null}
              <span class="muted small"> {kind === 'json' ? 'JSON' : kind === 'enum' ? 'choice' : kind}</span>
            </label>
            {kind === 'enum' ? (
              <select {...common} value={values[name]} onChange={(e) => set(name, (e.currentTarget as HTMLSelectElement).value)}>
                {required.has(name) && values[name] !== '' ? null : <option value="">(not set)</option>}
                {schema.enum!.map((v) => (
                  <option key={String(v)} value={String(v)}>
                    {String(v)}
                  </option>
                ))}
              </select>
            ) : kind === 'json' ? (
              <textarea {...common} rows={4} spellcheck={false} value={values[name]} onInput={(e) => set(name, (e.currentTarget as HTMLTextAreaElement).value)} />
            ) : kind === 'boolean' ? null : (
              <input
                {...common}
                type="text"
                inputMode={kind === 'string' ? undefined : kind === 'integer' ? 'numeric' : 'decimal'}
                spellcheck={false}
                autoComplete="off"
                value={values[name]}
                onInput={(e) => set(name, (e.currentTarget as HTMLInputElement).value)}
              />
            )}
            {schema.description ? (
              <p class="hint" id={`${id}-hint`}>
                {schema.description}
              </p>
            ) : null}
            {message ? (
              <p class="field-error" id={`${id}-error`} data-field-error={name}>
                {message}
              </p>
            ) : null}
          </div>
        );
      })}
      <button type="submit" disabled={props.pending}>
        {props.pending ? 'Calling…' : props.submitLabel}
      </button>
    </form>
  );
}

/** A CallToolResult as a person reads it: text, images, resources; an error result marked as such. */
export function ToolResult(props: { result: CallToolResult }) {
  const { result } = props;
  return (
    <section class={`tool-result${result.isError ? ' is-error' : ''}`} aria-label="Result" data-tool-result={result.isError ? 'error' : 'ok'}>
      <h3>{result.isError ? 'The tool reported an error' : 'Result'}</h3>
      {(result.content ?? []).map((item, i) =>
        item.type === 'text' ? (
          <pre key={i}>{item.text}</pre>
        ) : item.type === 'image' && item.data ? (
          <img key={i} alt={`image ${i + 1} of the result (${item.mimeType ?? 'image'})`} src={`data:${item.mimeType ?? 'image/png'};base64,${item.data}`} />
        ) : (
          <pre key={i}>{JSON.stringify(item, null, 2)}</pre>
        ),
      )}
      {result.structuredContent !== undefined ? (
        <details>
          <summary>Structured content</summary>
          <pre>{JSON.stringify(result.structuredContent, null, 2)}</pre>
        </details>
      ) : null}
      {!result.content?.length && result.structuredContent === undefined ? <p class="muted">The tool returned no content.</p> : null}
    </section>
  );
}
