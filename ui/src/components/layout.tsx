import type { ComponentChildren } from 'preact';
import { session } from '../api';
import { BASE, navigate } from '../router';

/** An in-app link: a real href (open in a new tab works), followed without a page load. */
export function Link(props: { href: string; children: ComponentChildren; class?: string; 'aria-current'?: 'page' | undefined }) {
  return (
    <a
      href={`${BASE}${props.href}`}
      class={props.class}
      aria-current={props['aria-current']}
      onClick={(event) => {
        if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
        event.preventDefault();
        navigate(props.href);
      }}
    >
      {props.children}
    </a>
  );
}

const SECTIONS: [string, string][] = [
  ['/servers', 'MCP Servers'],
  ['/keys', 'Keys'],
  ['/teams', 'Teams'],
  ['/organizations', 'Organizations'],
  ['/audit', 'Audit log'],
];

export function Layout(props: { path: string; children: ComponentChildren }) {
  return (
    <>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <span class="brand">Switchboard</span>
        <nav aria-label="Sections">
          <ul>
            {SECTIONS.map(([href, label]) => {
              const here = props.path === href || props.path.startsWith(`${href}/`);
              return (
                <li key={href}>
                  <Link href={href} class={here ? 'active' : undefined} aria-current={here ? 'page' : undefined}>
                    {label}
                  </Link>
                </li>
              );
            })}
          </ul>
        </nav>
        <button type="button" class="secondary small signout" onClick={() => session.signOut()}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {props.children}
      </main>
    </>
  );
}

/** The page's title: focused after an in-app navigation, so screen readers announce the new page. */
export function PageTitle(props: { children: ComponentChildren; actions?: ComponentChildren }) {
  return (
    <div class="page-head">
      <h1 id="page-title" tabIndex={-1}>
        {props.children}
      </h1>
      {props.actions ? <div class="actions">{props.actions}</div> : null}
    </div>
  );
}

export function Loading(props: { what: string }) {
  return (
    <p class="muted" role="status">
      Loading {props.what}…
    </p>
  );
}

export function Badge(props: { tone: 'ok' | 'bad' | 'neutral' | 'warn'; children: ComponentChildren }) {
  return <span class={`badge ${props.tone}`}>{props.children}</span>;
}

export const when = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString() : '—');
