/**
 * quanthub-share: Quantsite's JupyterLab extension. Its plugins: Share (here), the messages
 * with the site page that frames the lab (site.ts), and the Launcher without start-up wait
 * (launcher.ts).
 *
 * Share: a Share button on each cell and on each notebook (and a "Share notebook" command).
 *
 * Share asks for a title, a description and tags, marks the active cell (for the cell
 * toolbar's button: the cell it is on) as the showcase cell in the notebook's metadata, saves
 * the notebook, and posts the share to this server's `quanthub/share` handler, which forwards
 * it to the site with the server's own credential. The site answers with the post's URL; since
 * JupyterLab runs inside the site's /research frame, the parent page is asked (postMessage) to
 * go there (the messages between the lab and the site are in site.ts).
 *
 * The per-cell button is an item of JupyterLab's cell toolbar, declared in schema/plugin.json
 * (`jupyter.lab.toolbars` → `Cell`); that toolbar is shown on the active cell only, so the
 * active cell is the one whose button was clicked.
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { Dialog, InputDialog, ToolbarButton, showErrorMessage } from '@jupyterlab/apputils';
import { URLExt } from '@jupyterlab/coreutils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ServerConnection } from '@jupyterlab/services';
import { shareIcon } from '@jupyterlab/ui-components';

import { launcherPlugin } from './launcher';
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

async function share(panel: NotebookPanel, cell: Cell | null): Promise<void> {
  if (!cell || panel.content.widgets.indexOf(cell) < 0) {
    return;
  }
  const notebook = panel.content;
  const title = await InputDialog.getText({
    title: 'Share to the community',
    label: 'Title',
    placeholder: panel.context.path.split('/').pop() ?? ''
  });
  if (!title.button.accept || !title.value) {
    return;
  }
  const description = await InputDialog.getText({
    title: 'Share to the community',
    label: 'Description (Markdown, optional)'
  });
  if (!description.button.accept) {
    return;
  }
  const tags = await InputDialog.getText({
    title: 'Share to the community',
    label: 'Tags (comma-separated, optional)',
    placeholder: 'momentum, daily'
  });
  if (!tags.button.accept) {
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

  const settings = ServerConnection.makeSettings();
  const response = await ServerConnection.makeRequest(
    URLExt.join(settings.baseUrl, 'quanthub', 'share'),
    {
      method: 'POST',
      body: JSON.stringify({
        path: panel.context.path,
        title: title.value,
        description: description.value ?? '',
        tags: parseTags(tags.value ?? ''),
        showcase_cell: showcaseCell(panel, cell)
      })
    },
    settings
  );
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    await showErrorMessage('Share failed', errorText(body, response.statusText));
    return;
  }
  // Framed by the site, the site shows the post (it checks that the message comes from the
  // user's hub); anywhere else, a dialog says where it is.
  if (!postToSite({ type: 'quanthub:shared', url: body.url })) {
    await new Dialog({
      title: 'Shared',
      body: `Version ${body.version} is on the community: ${body.url}`,
      buttons: [Dialog.okButton()]
    }).launch();
  }
}

const sharePlugin: JupyterFrontEndPlugin<void> = {
  // The id names schema/plugin.json, whose cell toolbar item runs SHARE_CELL.
  id: 'quanthub-share:plugin',
  description: 'Share a notebook to the Quantsite community.',
  autoStart: true,
  requires: [INotebookTracker],
  activate: (app: JupyterFrontEnd, tracker: INotebookTracker) => {
    const shareActive = () => {
      const panel = tracker.currentWidget;
      return panel ? share(panel, panel.content.activeCell) : undefined;
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
        onClick: () => void share(panel, panel.content.activeCell)
      });
      panel.toolbar.insertItem(10, 'quanthubShare', button);
    });
  }
};

export default [sharePlugin, sitePlugin, launcherPlugin];
