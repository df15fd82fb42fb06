/**
 * The Launcher as soon as the lab has restored its layout.
 *
 * JupyterLab 4.6 opens the Launcher of an empty main area only once its router has handled
 * the page's URL, and the first route ends with `apputils:load-statedb` waiting for the
 * workspace save it debounces (500 ms after the last change to the state database, which
 * plugins keep changing during start-up): about a second in which the lab is restored and
 * idle but shows no Launcher. This plugin opens it when the shell has restored instead. The
 * core's own checks find the main area no longer empty and open no second one.
 *
 * When the URL names a file (`/lab/tree/<path>`), the router opens that file and no Launcher
 * is wanted, so this plugin leaves that case alone.
 */
import {
  ILabShell,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { PageConfig } from '@jupyterlab/coreutils';

const LAUNCHER_CREATE = 'launcher:create';

export const launcherPlugin: JupyterFrontEndPlugin<void> = {
  id: 'quanthub-share:launcher',
  description: 'Opens the Launcher as soon as the layout is restored.',
  autoStart: true,
  requires: [ILabShell],
  activate: (app: JupyterFrontEnd, labShell: ILabShell) => {
    if (PageConfig.getOption('treePath')) {
      return;
    }
    void app.restored.then(() => {
      if (labShell.isEmpty('main') && app.commands.hasCommand(LAUNCHER_CREATE)) {
        void app.commands.execute(LAUNCHER_CREATE);
      }
    });
  }
};
