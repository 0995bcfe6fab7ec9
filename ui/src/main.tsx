import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { session } from './api';
import { Layout } from './components/layout';
import { AuditPage } from './pages/audit';
import { KeyPage, KeysPage } from './pages/keys';
import { OrganizationPage, OrganizationsPage } from './pages/organizations';
import { ServerFormPage } from './pages/server-form';
import { ServerPage } from './pages/server';
import { ServersPage } from './pages/servers';
import { SignInPage } from './pages/sign-in';
import { TeamPage, TeamsPage } from './pages/teams';
import { match, navigate, useRoute } from './router';
import './styles.css';

function NotFound(props: { path: string }) {
  return (
    <>
      <h1 id="page-title" tabIndex={-1}>
        Not found
      </h1>
      <p>There is no page at {props.path}.</p>
    </>
  );
}

function page(path: string) {
  let params: Record<string, string> | null;
  if (path === '/' || path === '/servers') return <ServersPage />;
  if (path === '/servers/new') return <ServerFormPage />;
  if ((params = match('/servers/:id/edit', path))) return <ServerFormPage serverId={params.id!} />;
  if ((params = match('/servers/:id', path))) return <ServerPage serverId={params.id!} />;
  if (path === '/keys') return <KeysPage />;
  if ((params = match('/keys/:token', path))) return <KeyPage token={params.token!} />;
  if (path === '/teams') return <TeamsPage />;
  if ((params = match('/teams/:id', path))) return <TeamPage teamId={params.id!} />;
  if (path === '/organizations') return <OrganizationsPage />;
  if ((params = match('/organizations/:id', path))) return <OrganizationPage organizationId={params.id!} />;
  if (path === '/audit') return <AuditPage />;
  return <NotFound path={path} />;
}

function App() {
  const route = useRoute();
  const [signedIn, setSignedIn] = useState(() => session.key() !== null);
  const first = useRef(true);

  useEffect(() => {
    const signedOut = () => setSignedIn(false);
    window.addEventListener('switchboard:signed-out', signedOut);
    return () => window.removeEventListener('switchboard:signed-out', signedOut);
  }, []);

  // After an in-app navigation, focus moves to the new page's title (the first render keeps the browser's focus).
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    document.getElementById('page-title')?.focus();
    window.scrollTo(0, 0);
  }, [route.path, signedIn]);

  useEffect(() => {
    const title = document.getElementById('page-title')?.textContent;
    document.title = title ? `${title} · Switchboard admin` : 'Switchboard admin';
  });

  if (!signedIn) {
    return (
      <SignInPage
        onSignedIn={() => {
          setSignedIn(true);
          if (route.path === '/') navigate('/servers', { replace: true });
        }}
      />
    );
  }
  return <Layout path={route.path}>{page(route.path)}</Layout>;
}

render(<App />, document.getElementById('app')!);
