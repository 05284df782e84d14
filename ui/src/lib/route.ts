// Hash routes: #/patients, #/patients/<id>, #/documents/<id>…
import { useEffect, useState } from 'preact/hooks';

export interface Route {
  screen: string;
  id?: string;
}

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean);
  if (parts.length === 0) return { screen: 'patients' };
  const [screen, id] = parts;
  return id ? { screen, id: decodeURIComponent(id) } : { screen };
}

export function navigate(path: string) {
  window.location.hash = path;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const update = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener('hashchange', update);
    return () => window.removeEventListener('hashchange', update);
  }, []);
  return route;
}
