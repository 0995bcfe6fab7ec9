import type { ComponentChildren } from 'preact';
import { ApiError } from '../api';

// Form fields with their label, hint and the API's error for them. Forms are `noValidate`: whatever is typed goes to
// the API, and its answer is what the user sees, at the field it names.

interface FieldProps {
  id: string;
  label: string;
  /** The API field this input feeds (for its error). */
  name: string;
  error?: ApiError | undefined;
  hint?: ComponentChildren;
  required?: boolean;
}

function describedBy(id: string, hint: unknown, message: string | undefined): string | undefined {
  const ids = [hint ? `${id}-hint` : '', message ? `${id}-error` : ''].filter(Boolean).join(' ');
  return ids || undefined;
}

function FieldFrame(props: FieldProps & { message: string | undefined; children: ComponentChildren; wide?: boolean }) {
  return (
    <div class={`field${props.message ? ' has-error' : ''}${props.wide ? ' wide' : ''}`}>
      <label for={props.id}>
        {props.label}
        {props.required ? <span class="required" aria-hidden="true"> *</span> : null}
      </label>
      {props.children}
      {props.hint ? (
        <p class="hint" id={`${props.id}-hint`}>
          {props.hint}
        </p>
      ) : null}
      {props.message ? (
        <p class="field-error" id={`${props.id}-error`} data-field-error={props.name}>
          {props.message}
        </p>
      ) : null}
    </div>
  );
}

type InputProps = FieldProps & {
  value: string;
  onValue: (value: string) => void;
  type?: 'text' | 'password' | 'url' | 'datetime-local';
  placeholder?: string;
  autoComplete?: string;
  inputMode?: 'numeric' | 'decimal' | 'url' | 'text';
  wide?: boolean;
  extraError?: string | undefined;
};

export function TextField(props: InputProps) {
  const message = props.extraError ?? props.error?.field(props.name);
  return (
    <FieldFrame {...props} message={message}>
      <input
        id={props.id}
        name={props.name}
        type={(props.type ?? 'text') as 'text'}
        value={props.value}
        placeholder={props.placeholder}
        autoComplete={props.autoComplete ?? 'off'}
        inputMode={props.inputMode}
        spellcheck={false}
        aria-required={props.required ? 'true' : undefined}
        aria-invalid={message ? 'true' : undefined}
        aria-describedby={describedBy(props.id, props.hint, message)}
        onInput={(e) => props.onValue((e.currentTarget as HTMLInputElement).value)}
      />
    </FieldFrame>
  );
}

export function TextAreaField(props: InputProps & { rows?: number }) {
  const message = props.extraError ?? props.error?.field(props.name);
  return (
    <FieldFrame {...props} message={message}>
      <textarea
        id={props.id}
        name={props.name}
        rows={props.rows ?? 3}
        value={props.value}
        placeholder={props.placeholder}
        spellcheck={false}
        aria-invalid={message ? 'true' : undefined}
        aria-describedby={describedBy(props.id, props.hint, message)}
        onInput={(e) => props.onValue((e.currentTarget as HTMLTextAreaElement).value)}
      />
    </FieldFrame>
  );
}

export function SelectField(props: FieldProps & { value: string; onValue: (value: string) => void; options: [string, string][]; wide?: boolean }) {
  const message = props.error?.field(props.name);
  return (
    <FieldFrame {...props} message={message}>
      <select
        id={props.id}
        name={props.name}
        value={props.value}
        aria-invalid={message ? 'true' : undefined}
        aria-describedby={describedBy(props.id, props.hint, message)}
        onChange={(e) => props.onValue((e.currentTarget as HTMLSelectElement).value)}
      >
        {props.options.map(([value, label]) => (
          <option key={value} value={value}>
            {label}
          </option>
        ))}
      </select>
    </FieldFrame>
  );
}

export function CheckboxField(props: { id: string; label: string; checked: boolean; onChecked: (checked: boolean) => void; hint?: string; name?: string; error?: ApiError | undefined }) {
  const message = props.name ? props.error?.field(props.name) : undefined;
  return (
    <div class={`field checkbox${message ? ' has-error' : ''}`}>
      <input
        id={props.id}
        type="checkbox"
        checked={props.checked}
        aria-describedby={props.hint ? `${props.id}-hint` : undefined}
        onChange={(e) => props.onChecked((e.currentTarget as HTMLInputElement).checked)}
      />
      <label for={props.id}>{props.label}</label>
      {props.hint ? (
        <p class="hint" id={`${props.id}-hint`}>
          {props.hint}
        </p>
      ) : null}
      {message ? (
        <p class="field-error" data-field-error={props.name}>
          {message}
        </p>
      ) : null}
    </div>
  );
}

/** A set of checkboxes in a fieldset: pick some of `options`. */
export function CheckList(props: {
  id: string;
  legend: string;
  options: { value: string; label?: string; note?: string }[];
  selected: string[];
  onSelected: (selected: string[]) => void;
  empty?: string;
  name?: string;
  error?: ApiError | undefined;
}) {
  const message = props.name ? props.error?.field(props.name) : undefined;
  const toggle = (value: string, on: boolean) =>
    props.onSelected(on ? [...props.selected.filter((v) => v !== value), value] : props.selected.filter((v) => v !== value));
  return (
    <fieldset class={`checklist${message ? ' has-error' : ''}`} aria-describedby={message ? `${props.id}-error` : undefined}>
      <legend>{props.legend}</legend>
      {props.options.length === 0 ? <p class="hint">{props.empty ?? 'Nothing to pick yet.'}</p> : null}
      <ul>
        {props.options.map((option, i) => (
          <li key={option.value}>
            <input
              id={`${props.id}-${i}`}
              type="checkbox"
              value={option.value}
              checked={props.selected.includes(option.value)}
              onChange={(e) => toggle(option.value, (e.currentTarget as HTMLInputElement).checked)}
            />
            <label for={`${props.id}-${i}`}>
              {option.label ?? option.value}
              {option.note ? <span class="muted"> {option.note}</span> : null}
            </label>
          </li>
        ))}
      </ul>
      {message ? (
        <p class="field-error" id={`${props.id}-error`} data-field-error={props.name}>
          {message}
        </p>
      ) : null}
    </fieldset>
  );
}

/** Name/value rows (headers, environment variables). */
export function KeyValueEditor(props: {
  id: string;
  legend: string;
  rows: [string, string][];
  onRows: (rows: [string, string][]) => void;
  keyLabel: string;
  valueLabel: string;
  name: string;
  error?: ApiError | undefined;
  hint?: string;
}) {
  const message = props.error?.field(props.name);
  const set = (index: number, part: 0 | 1, value: string) => props.onRows(props.rows.map((row, i) => (i === index ? (part === 0 ? [value, row[1]] : [row[0], value]) : row)));
  return (
    <fieldset class={`kv${message ? ' has-error' : ''}`}>
      <legend>{props.legend}</legend>
      {props.hint ? <p class="hint">{props.hint}</p> : null}
      {props.rows.map((row, i) => (
        <div class="kv-row" key={i}>
          <label class="visually-hidden" for={`${props.id}-k${i}`}>
            {props.keyLabel} {i + 1}
          </label>
          <input id={`${props.id}-k${i}`} value={row[0]} placeholder={props.keyLabel} spellcheck={false} autoComplete="off" onInput={(e) => set(i, 0, (e.currentTarget as HTMLInputElement).value)} />
          <label class="visually-hidden" for={`${props.id}-v${i}`}>
            {props.valueLabel} {i + 1}
          </label>
          <input id={`${props.id}-v${i}`} value={row[1]} placeholder={props.valueLabel} spellcheck={false} autoComplete="off" onInput={(e) => set(i, 1, (e.currentTarget as HTMLInputElement).value)} />
          <button type="button" class="link" aria-label={`Remove ${props.keyLabel.toLowerCase()} ${row[0] || i + 1}`} onClick={() => props.onRows(props.rows.filter((_, j) => j !== i))}>
            Remove
          </button>
        </div>
      ))}
      <button type="button" class="secondary small" onClick={() => props.onRows([...props.rows, ['', '']])}>
        Add {props.keyLabel.toLowerCase()}
      </button>
      {message ? (
        <p class="field-error" data-field-error={props.name}>
          {message}
        </p>
      ) : null}
    </fieldset>
  );
}

/** The API's message when no field of the form is named (or always, for the record), announced to screen readers. */
export function FormError(props: { error: ApiError | undefined; fields?: string[] }) {
  if (!props.error) return null;
  const shown = props.fields?.some((field) => props.error!.field(field));
  return (
    <div class="alert error" role="alert" data-form-error>
      {shown ? 'The gateway refused this: see the highlighted field.' : props.error.message}
    </div>
  );
}
