// Hash routes: #/patients, #/patients/<id>, #/documents/<id>… and the guard that keeps a
// person from leaving a screen with unsaved edits without being asked.
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

/** Goes to `path` after the screen's edits were saved or deliberately dropped (no question). */
export function leaveTo(path: string) {
  unsaved = null;
  navigate(path);
}

/** What the screen on show would lose if left now ("your changes to Ana Lima"), if anything. */
let unsaved: string | null = null;
/** Where the person tried to go while edits were unsaved: the question on screen. */
let leaving: string | null = null;
const listeners = new Set<() => void>();
const tell = () => listeners.forEach((f) => f());

/** Marks the screen as holding unsaved edits (`what` names them) while `what` is set. */
export function useUnsaved(what: string | null) {
  useEffect(() => {
    unsaved = what;
    return () => {
      if (unsaved === what) unsaved = null;
    };
  }, [what]);
}

/** The question "leave without saving?" when one is asked, with its answers. */
export function useLeaving(): { what: string; stay: () => void; leave: () => void } | null {
  const [, redraw] = useState(0);
  useEffect(() => {
    const f = () => redraw((n) => n + 1);
    listeners.add(f);
    return () => void listeners.delete(f);
  }, []);
  if (leaving === null || unsaved === null) return null;
  const target = leaving;
  return {
    what: unsaved,
    stay: () => {
      leaving = null;
      tell();
    },
    leave: () => {
      leaving = null;
      unsaved = null;
      tell();
      window.location.hash = target;
    },
  };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    let shown = window.location.hash;
    const update = () => {
      const next = window.location.hash;
      if (next === shown) return;
      if (unsaved !== null) {
        // Back where we were (no new history entry, no second hashchange), and ask.
        history.replaceState(null, '', shown || '#/');
        leaving = next;
        tell();
        return;
      }
      shown = next;
      setRoute(parseRoute(next));
    };
    window.addEventListener('hashchange', update);
    return () => window.removeEventListener('hashchange', update);
  }, []);
  return route;
}
