/**
 * quanthub-share: a Share button on each notebook (and a "Share notebook" command).
 *
 * Share marks the active cell as the showcase cell in the notebook's metadata, saves the
 * notebook, asks for a title and a description, and posts the share to this server's
 * `quanthub/share` handler, which forwards it to the site with the server's own credential.
 * The site answers with the post's URL; since JupyterLab runs inside the site's /research
 * frame, the parent page is asked (postMessage) to go there.
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { Dialog, InputDialog, ToolbarButton, showErrorMessage } from '@jupyterlab/apputils';
import { URLExt } from '@jupyterlab/coreutils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ServerConnection } from '@jupyterlab/services';

const COMMAND = 'quanthub:share-notebook';

async function share(panel: NotebookPanel): Promise<void> {
  const notebook = panel.content;
  const index = notebook.activeCellIndex;
  const cell = notebook.activeCell;
  if (!cell) {
    return;
  }
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
        showcase_cell: index
      })
    },
    settings
  );
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    await showErrorMessage('Share failed', body.detail ?? response.statusText);
    return;
  }
  if (window.parent !== window) {
    // The site checks that this message comes from a registered hub.
    window.parent.postMessage({ type: 'quanthub:shared', url: body.url }, '*');
  } else {
    await new Dialog({
      title: 'Shared',
      body: `Version ${body.version} is on the community: ${body.url}`,
      buttons: [Dialog.okButton()]
    }).launch();
  }
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'quanthub-share:plugin',
  description: 'Share a notebook to the Quantsite community.',
  autoStart: true,
  requires: [INotebookTracker],
  activate: (app: JupyterFrontEnd, tracker: INotebookTracker) => {
    app.commands.addCommand(COMMAND, {
      label: 'Share Notebook to the Community',
      isEnabled: () => tracker.currentWidget !== null,
      execute: () => (tracker.currentWidget ? share(tracker.currentWidget) : undefined)
    });
    app.contextMenu.addItem({ command: COMMAND, selector: '.jp-Cell', rank: 100 });
    tracker.widgetAdded.connect((_sender, panel) => {
      const button = new ToolbarButton({
        className: 'quanthub-share-button',
        label: 'Share',
        tooltip: 'Share this notebook, showcasing the active cell',
        onClick: () => void share(panel)
      });
      panel.toolbar.insertItem(10, 'quanthubShare', button);
    });
  }
};

export default plugin;
