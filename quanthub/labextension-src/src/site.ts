/**
 * The lab's side of the messages between JupyterLab and the site page that frames it.
 *
 * The site's origin comes from the page config option `quanthubSiteOrigin` (set by the
 * server extension quanthub.share from the server's QUANTHUB_SITE_URL). Without it, or when
 * the lab is not framed, nothing is posted and nothing is listened to.
 *
 * lab → site (always to the site's origin, never '*'):
 *   {type: 'quanthub:ready'}                          once the app has restored, and in
 *                                                     answer to each ping
 *   {type: 'quanthub:opened', id, path, ok: true}     an open request was done
 *   {type: 'quanthub:opened', id, path, ok: false, error}
 *   {type: 'quanthub:shared', url}                    a share made a forum post
 *
 * site → lab (accepted only from the parent window, from the site's origin):
 *   {type: 'quanthub:ping'}
 *   {type: 'quanthub:open', id: string, path: string} open `path` (relative to the
 *                                                     server's root), activated
 *
 * Any other message, or an open whose path is not a plain relative path, is ignored.
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { PageConfig } from '@jupyterlab/coreutils';
import type { IDocumentWidget } from '@jupyterlab/docregistry';
import { ServerConnection } from '@jupyterlab/services';

/** The longest path an open request may name. */
export const MAX_PATH_LENGTH = 1024;

// C0 controls, DEL and C1 controls.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** The site's origin (scheme://host[:port]), or null when this lab has none or is not
 * framed: then it talks to no one. */
export function siteOrigin(): string | null {
  const origin = PageConfig.getOption('quanthubSiteOrigin');
  return origin && window.parent !== window ? origin : null;
}

/** Post `message` to the site page framing this lab, if there is one. Returns whether it
 * was posted. */
export function postToSite(message: Record<string, unknown>): boolean {
  const origin = siteOrigin();
  if (origin === null) {
    return false;
  }
  window.parent.postMessage(message, origin);
  return true;
}

/** Whether `path` names a file the site may ask to open: a non-empty relative path of at
 * most MAX_PATH_LENGTH characters, without control characters, whose segments are
 * neither empty, `.` nor `..`. */
export function isOpenablePath(path: unknown): path is string {
  if (typeof path !== 'string' || path === '' || path.length > MAX_PATH_LENGTH) {
    return false;
  }
  if (path.startsWith('/') || CONTROL.test(path)) {
    return false;
  }
  return path
    .split('/')
    .every(segment => segment !== '' && segment !== '.' && segment !== '..');
}

/** The message of a failure to open `path`: the server's own, except for a missing file,
 * whose 404 jupyter_server answers with a plain-text body that JupyterLab does not read. */
function openError(path: string, reason: unknown): string {
  if (reason instanceof ServerConnection.ResponseError && reason.response.status === 404) {
    return `No such file: ${path}`;
  }
  if (reason instanceof Error && reason.message) {
    return reason.message;
  }
  return typeof reason === 'string' && reason ? reason : 'The file could not be opened.';
}

async function open(app: JupyterFrontEnd, id: string, path: string): Promise<void> {
  await app.restored;
  try {
    // docmanager:open asks the server for the file first (a missing one rejects here), then
    // opens it, or shows it if it is open already, activated.
    const widget = (await app.commands.execute('docmanager:open', { path })) as
      | IDocumentWidget
      | undefined;
    if (!widget) {
      throw new Error(`No viewer can open ${path}.`);
    }
    await widget.context.ready;
    postToSite({ type: 'quanthub:opened', id, path, ok: true });
  } catch (reason) {
    postToSite({ type: 'quanthub:opened', id, path, ok: false, error: openError(path, reason) });
  }
}

export const sitePlugin: JupyterFrontEndPlugin<void> = {
  id: 'quanthub-share:site',
  description: 'Talks to the Quantsite page framing this lab: ready, open a path.',
  autoStart: true,
  activate: (app: JupyterFrontEnd) => {
    const origin = siteOrigin();
    if (origin === null) {
      return;
    }
    // Listening from activation on: a request that comes before the app has restored is
    // answered once it has.
    window.addEventListener('message', (event: MessageEvent) => {
      // Only the framing page, and only when it is the site: another window, or the parent
      // after it navigated to some other origin, is not asked.
      if (event.source !== window.parent || event.origin !== origin) {
        return;
      }
      const data = event.data;
      if (!data || typeof data !== 'object') {
        return;
      }
      if (data.type === 'quanthub:ping') {
        void app.restored.then(() => postToSite({ type: 'quanthub:ready' }));
      } else if (
        data.type === 'quanthub:open' &&
        typeof data.id === 'string' &&
        isOpenablePath(data.path)
      ) {
        void open(app, data.id, data.path);
      }
    });
    void app.restored.then(() => postToSite({ type: 'quanthub:ready' }));
  }
};
