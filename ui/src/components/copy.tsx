import { useState } from 'preact/hooks';

/** A secret shown once, with a button that copies it. */
export function ShownOnce(props: { id: string; label: string; value: string }) {
  const [copied, setCopied] = useState<'idle' | 'copied' | 'failed'>('idle');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(props.value);
      setCopied('copied');
    } catch {
      // Not a secure context (plain http on another host): select it for the user to copy.
      const input = document.getElementById(props.id) as HTMLInputElement | null;
      input?.select();
      setCopied(document.execCommand?.('copy') ? 'copied' : 'failed');
    }
  };
  return (
    <div class="alert success shown-once" role="status">
      <label for={props.id}>{props.label}</label>
      <div class="copy-row">
        <input id={props.id} readOnly value={props.value} data-new-secret spellcheck={false} onFocus={(e) => (e.currentTarget as HTMLInputElement).select()} />
        <button type="button" class="secondary small" onClick={() => void copy()}>
          Copy
        </button>
      </div>
      <p class="hint">{copied === 'copied' ? 'Copied.' : copied === 'failed' ? 'Select it and copy it by hand.' : 'It is shown this once: store it now.'}</p>
    </div>
  );
}
