/**
 * quanthub-share: Quantsite's JupyterLab extension. Its plugins: Share (here), the messages
 * with the site page that frames the lab (site.ts), the Launcher without start-up wait
 * (launcher.ts), and one document at a time on a phone (phone.ts).
 *
 * Share: a Share button on each cell and on each notebook (and a "Share notebook" command).
 *
 * Share asks for a title, a description and tags in one dialog (shareDialog.ts), filled in
 * from the post an earlier share of the same file made (`GET quanthub/share?path=`; the file's
 * name and nothing else for a first share), marks the active cell (for the cell toolbar's
 * button: the cell it is on) as the showcase cell in the notebook's metadata, saves the
 * notebook, and posts the share to this server's `quanthub/share` handler, which forwards it
 * to the site with the server's own credential. Only the description and the tags the user
 * changed are sent: the site keeps the post's own when they are absent, so a re-share never
 * wipes them. The site answers with the post's URL; since JupyterLab runs inside the site's
 * /research frame, the parent page is asked (postMessage) to go there (the messages between
 * the lab and the site are in site.ts), and a notification offers to open the post.
 *
 * The per-cell button is an item of JupyterLab's cell toolbar, declared in schema/plugin.json
 * (`jupyter.lab.toolbars` → `Cell`); that toolbar is shown on the active cell only, so the
 * active cell is the one whose button was clicked.
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { Notification, ToolbarButton, showErrorMessage } from '@jupyterlab/apputils';
import { PageConfig, URLExt } from '@jupyterlab/coreutils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ServerConnection } from '@jupyterlab/services';
import { shareIcon } from '@jupyterlab/ui-components';

import { launcherPlugin } from './launcher';
import { phonePlugin } from './phone';
import { IShareForm, askShare } from './shareDialog';
import { postToSite, sitePlugin } from './site';

const SHARE_NOTEBOOK = 'quanthub:share-notebook';
const SHARE_CELL = 'quanthub:share-cell';

type Cell = NonNullable<NotebookPanel['content']['activeCell']>;

/** Tags as typed ("Momentum, daily,") → ["momentum", "daily"]: trimmed, lowercased, without
 * empty or repeated ones. The site checks the rest (how many, which characters). */
function parseTags(text: string): string[] {
  const tags = text
    .split(',')
    .map(tag => tag.trim().toLowerCase())
    .filter(tag => tag !== '');
  return Array.from(new Set(tags));
}

/** The showcase cell as the site takes it: its id when the notebook has cell ids (nbformat
 * 4.5 and later, which JupyterLab saves), else its index. */
function showcaseCell(panel: NotebookPanel, cell: Cell): string | number {
  const model = panel.content.model;
  const hasIds =
    model !== null &&
    (model.nbformat > 4 || (model.nbformat === 4 && model.nbformatMinor >= 5));
  return hasIds && cell.model.id ? cell.model.id : panel.content.widgets.indexOf(cell);
}

/** A readable message from the site's error body: `{"detail": …}`, or DRF's field errors
 * (`{"tags": {"0": ["…"]}}`). */
function errorText(body: unknown, fallback: string): string {
  const strings = (value: unknown): string[] =>
    typeof value === 'string'
      ? [value]
      : value && typeof value === 'object'
        ? Object.values(value).flatMap(strings)
        : [];
  if (!body || typeof body !== 'object') {
    return fallback;
  }
  const { detail } = body as { detail?: unknown };
  if (typeof detail === 'string') {
    return detail;
  }
  const fields = Object.entries(body).map(
    ([field, value]) => `${field}: ${strings(value).join(' ')}`
  );
  return fields.length ? fields.join('\n') : fallback;
}

/** The user's post shared from a path, as the site gives it. */
interface IPost {
  id: number;
  title: string;
  description: string;
  tags: string[];
  url: string;
  version: number;
}

/** What the dialog starts from: the post an earlier share of `path` made, or, when there is
 * none, the file's name and nothing else; with a notice when the post could not be read. */
async function prefill(path: string): Promise<{ form: IShareForm; notice: string }> {
  const fresh = { title: path.split('/').pop() ?? '', description: '', tags: '' };
  const settings = ServerConnection.makeSettings();
  const url =
    URLExt.join(settings.baseUrl, 'quanthub', 'share') + URLExt.objectToQueryString({ path });
  const unread = {
    form: fresh,
    notice:
      'The current post could not be read: the title here replaces its title; a ' +
      'description or tags typed here replace its own, and left empty they stay as they are.'
  };
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, { method: 'GET' }, settings);
  } catch {
    return unread; // no answer from this server
  }
  if (response.status === 404) {
    return { form: fresh, notice: '' }; // never shared
  }
  const post = (await response.json().catch(() => null)) as IPost | null;
  if (!response.ok || !post || typeof post.title !== 'string') {
    return unread;
  }
  return {
    form: {
      title: post.title,
      description: post.description ?? '',
      tags: (post.tags ?? []).join(', ')
    },
    notice: ''
  };
}

function sameTags(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((tag, i) => tag === b[i]);
}

async function share(
  panel: NotebookPanel,
  cell: Cell | null,
  rendermime: IRenderMimeRegistry
): Promise<void> {
  if (!cell || panel.content.widgets.indexOf(cell) < 0) {
    return;
  }
  const notebook = panel.content;
  const path = panel.context.path;
  const initial = await prefill(path);
  const form = await askShare(initial.form, rendermime, initial.notice);
  if (!form) {
    return;
  }
  // The showcase cell is marked in the notebook itself, and saved before sharing.
  for (const other of notebook.widgets) {
    if (other.model.getMetadata('quanthub')) {
      other.model.deleteMetadata('quanthub');
    }
  }
  cell.model.setMetadata('quanthub', { showcase: true });
  await panel.context.save();

  // What the user left as it was is not sent: the site keeps the post's own.
  const request: Record<string, unknown> = {
    path,
    title: form.title.trim(),
    showcase_cell: showcaseCell(panel, cell)
  };
  if (form.description !== initial.form.description) {
    request.description = form.description;
  }
  const tags = parseTags(form.tags);
  if (!sameTags(tags, parseTags(initial.form.tags))) {
    request.tags = tags;
  }
  const settings = ServerConnection.makeSettings();
  const response = await ServerConnection.makeRequest(
    URLExt.join(settings.baseUrl, 'quanthub', 'share'),
    { method: 'POST', body: JSON.stringify(request) },
    settings
  );
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    await showErrorMessage('Share failed', errorText(body, response.statusText));
    return;
  }
  // Framed by the site, the site shows the post (it checks that the message comes from the
  // user's hub). The post's address is the site's, not this server's.
  postToSite({ type: 'quanthub:shared', url: body.url });
  const site = PageConfig.getOption('quanthubSiteOrigin') || window.location.origin;
  const url = new URL(body.url, site).href;
  // A toast for ten seconds (a notification is silent by default), then in the lab's
  // notification list.
  Notification.success('Shared to the community', {
    autoClose: 10_000,
    actions: [{ label: 'Open post', callback: () => window.open(url, '_blank', 'noopener') }]
  });
}

const sharePlugin: JupyterFrontEndPlugin<void> = {
  // The id names schema/plugin.json, whose cell toolbar item runs SHARE_CELL.
  id: 'quanthub-share:plugin',
  description: 'Share a notebook to the Quantsite community.',
  autoStart: true,
  requires: [INotebookTracker, IRenderMimeRegistry],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    rendermime: IRenderMimeRegistry
  ) => {
    const shareActive = () => {
      const panel = tracker.currentWidget;
      return panel ? share(panel, panel.content.activeCell, rendermime) : undefined;
    };
    app.commands.addCommand(SHARE_NOTEBOOK, {
      label: 'Share Notebook to the Community',
      caption: 'Share this notebook, showcasing the active cell',
      icon: shareIcon,
      isEnabled: () => tracker.currentWidget !== null,
      execute: shareActive
    });
    app.commands.addCommand(SHARE_CELL, {
      label: 'Share Notebook, Showcasing This Cell',
      caption: 'Share this notebook to the community, showcasing this cell',
      icon: shareIcon,
      isEnabled: () => tracker.activeCell !== null,
      execute: shareActive
    });
    app.contextMenu.addItem({ command: SHARE_NOTEBOOK, selector: '.jp-Cell', rank: 100 });
    tracker.widgetAdded.connect((_sender, panel) => {
      const button = new ToolbarButton({
        className: 'quanthub-share-button',
        label: 'Share',
        tooltip: 'Share this notebook, showcasing the active cell',
        onClick: () => void share(panel, panel.content.activeCell, rendermime)
      });
      panel.toolbar.insertItem(10, 'quanthubShare', button);
    });
  }
};

export default [sharePlugin, sitePlugin, launcherPlugin, phonePlugin];
