/**
 * On a phone, one document at a time: when the lab starts in a window narrower than
 * `PHONE_MAX_WIDTH` CSS pixels, it switches to JupyterLab's single-document mode and closes
 * the side panels (the file browser), so the notebook has the whole screen. The person can
 * switch back (View → Simple Interface); a wider window is left as the user's layout has it.
 */
import {
  ILabShell,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';

export const PHONE_MAX_WIDTH = 700;

export const phonePlugin: JupyterFrontEndPlugin<void> = {
  id: 'quanthub-share:phone',
  description: 'Single-document mode, side panels closed, on a phone-sized screen.',
  autoStart: true,
  requires: [ILabShell],
  activate: (app: JupyterFrontEnd, labShell: ILabShell) => {
    if (!window.matchMedia(`(max-width: ${PHONE_MAX_WIDTH}px)`).matches) {
      return;
    }
    void app.restored.then(() => {
      labShell.mode = 'single-document';
      labShell.collapseLeft();
      labShell.collapseRight();
    });
  }
};
