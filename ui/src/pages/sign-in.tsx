import { useState } from 'preact/hooks';
import { get, session } from '../api';
import { FormError, TextField } from '../components/fields';
import { useSubmit } from '../hooks';

/**
 * Sign in with the master key or an admin key. The key is checked against an admin endpoint, then kept in this tab's
 * sessionStorage only (never in a URL, gone when the tab closes).
 */
export function SignInPage(props: { onSignedIn: () => void }) {
  const [key, setKey] = useState('');
  const { pending, error, submit } = useSubmit(async () => {
    await get('/v1/mcp/server', { key: key.trim() }).catch((error: { status?: number; fields?: Record<string, string> }) => {
      // The API's answer is about the key: show it at the key field.
      if (error.fields) error.fields.key ??= (error as Error).message;
      throw error;
    });
    session.signIn(key.trim());
    props.onSignedIn();
  });
  return (
    <main id="main" class="sign-in">
      <h1 id="page-title" tabIndex={-1}>
        Switchboard admin
      </h1>
      <p>Sign in with the master key or an admin key. It is kept in this browser tab only, until you sign out or close the tab.</p>
      <form
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <TextField id="signin-key" name="key" label="API key" type="password" autoComplete="current-password" value={key} onValue={setKey} error={error} placeholder="sk-…" required />
        <FormError error={error} fields={['key']} />
        <button type="submit" disabled={pending}>
          {pending ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
