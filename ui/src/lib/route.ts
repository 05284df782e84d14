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
/** What the person asked for while edits were unsaved (leave the page, close an editor): the
 * question on screen, run if they choose to lose the edits. */
let pending: (() => void) | null = null;
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

/** Runs `action` (which drops the screen's edits) now, or after asking when edits are unsaved. */
export function guarded(action: () => void) {
  if (unsaved === null) return action();
  pending = action;
  tell();
}

/** The question "leave without saving?" when one is asked, with its answers. */
export function useLeaving(): { what: string; stay: () => void; leave: () => void } | null {
  const [, redraw] = useState(0);
  useEffect(() => {
    const f = () => redraw((n) => n + 1);
    listeners.add(f);
    return () => void listeners.delete(f);
  }, []);
  if (pending === null || unsaved === null) return null;
  const action = pending;
  return {
    what: unsaved,
    stay: () => {
      pending = null;
      tell();
    },
    leave: () => {
      pending = null;
      unsaved = null;
      tell();
      action();
    },
  };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    let shown = window.location.hash;
    // A link is asked about before it navigates (no history entry is made)…
    const click = (e: MouseEvent) => {
      const link = (e.target as Element | null)?.closest?.('a[href^="#"]');
      const href = link?.getAttribute('href');
      if (!href || unsaved === null || href === shown || e.defaultPrevented) return;
      e.preventDefault();
      guarded(() => {
        window.location.hash = href;
      });
    };
    // …and anything else that changes the address (Back, a script) is undone, then asked.
    const update = () => {
      const next = window.location.hash;
      if (next === shown) return;
      if (unsaved !== null) {
        history.replaceState(null, '', shown || '#/');
        guarded(() => {
          window.location.hash = next;
        });
        return;
      }
      shown = next;
      setRoute(parseRoute(next));
    };
    document.addEventListener('click', click, true);
    window.addEventListener('hashchange', update);
    return () => {
      document.removeEventListener('click', click, true);
      window.removeEventListener('hashchange', update);
    };
  }, []);
  return route;
}
