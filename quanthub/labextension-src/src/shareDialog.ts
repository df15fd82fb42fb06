/**
 * The Share dialog: one form with the post's title, its description (Markdown, several
 * lines, with a preview rendered by the lab's own Markdown renderer, which sanitizes) and its
 * tags (comma-separated). It starts from what the caller gives (the post a previous share of
 * the file made, else the file's name and nothing else). Share with an empty title keeps the
 * dialog open and says "A title is required."
 */
import { Dialog } from '@jupyterlab/apputils';
import { IRenderMimeRegistry, MimeModel } from '@jupyterlab/rendermime';
import type { IRenderMime } from '@jupyterlab/rendermime';
import { Panel, Widget } from '@lumino/widgets';

/** The form's values, as typed. */
export interface IShareForm {
  title: string;
  description: string;
  tags: string;
}

export const TITLE_REQUIRED = 'A title is required.';

/** The index of the Share button among the dialog's buttons (Cancel, Share). */
const ACCEPT = 1;

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<HTMLElementTagNameMap[K]> = {},
  style: Partial<CSSStyleDeclaration> = {}
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  Object.assign(node, props);
  Object.assign(node.style, style);
  return node;
}

/** A field's label above it, in one block. */
function labelled(text: string, field: HTMLElement): HTMLLabelElement {
  const label = element('label', {}, { display: 'block', marginTop: '8px' });
  label.append(element('div', { textContent: text }, { marginBottom: '4px' }), field);
  return label;
}

let forms = 0;

const FIELD_STYLE: Partial<CSSStyleDeclaration> = { width: '100%', boxSizing: 'border-box' };

/** The dialog's body: the three fields, the Markdown preview and the title's message. */
export class ShareForm extends Panel implements Dialog.IBodyWidget<IShareForm> {
  constructor(initial: IShareForm, rendermime: IRenderMimeRegistry, notice = '') {
    super();
    this._rendermime = rendermime;
    this.addClass('quanthub-share-form');
    Object.assign(this.node.style, { minWidth: '32em', maxWidth: '100%' });

    this._title = element('input', {
      className: 'quanthub-share-title',
      value: initial.title,
      placeholder: 'Title'
    }, FIELD_STYLE);
    this._title.setAttribute('aria-required', 'true');
    this._title.addEventListener('input', () => {
      if (this._title.value.trim()) {
        this._error.hidden = true;
      }
    });
    this._error = element('div', {
      className: 'quanthub-share-error',
      textContent: TITLE_REQUIRED,
      hidden: true
    }, { color: 'var(--jp-error-color1)', marginTop: '4px' });
    this._error.setAttribute('role', 'alert');
    this._toggle = element('button', {
      className: 'jp-mod-styled quanthub-share-preview-toggle',
      type: 'button',
      textContent: 'Preview',
      title: 'Show the description as the post will show it'
    }, { minHeight: '24px', padding: '0 8px' });
    this._toggle.setAttribute('aria-pressed', 'false');
    this._toggle.addEventListener('click', () => void this._togglePreview());
    this._description = element('textarea', {
      className: 'quanthub-share-description',
      value: initial.description,
      rows: 8,
      placeholder: 'What the notebook shows, in Markdown (optional)'
    }, { ...FIELD_STYLE, resize: 'vertical', fontFamily: 'var(--jp-code-font-family)' });
    this._tags = element('input', {
      className: 'quanthub-share-tags',
      value: initial.tags,
      placeholder: 'momentum, daily'
    }, FIELD_STYLE);

    const head = new Widget();
    if (notice) {
      head.node.append(
        element('p', { className: 'quanthub-share-notice', textContent: notice }, {
          color: 'var(--jp-warn-color1)',
          marginTop: '0'
        })
      );
    }
    // The description's label and the toggle on one line; the field follows, in a widget of
    // its own, so that the preview can take its place.
    this._description.id = `quanthub-share-description-${++forms}`;
    const caption = element('div', {}, {
      display: 'flex',
      justifyContent: 'space-between',
      alignItems: 'center',
      margin: '8px 0 4px'
    });
    caption.append(
      element('label', {
        textContent: 'Description (Markdown, optional)',
        htmlFor: this._description.id
      }),
      this._toggle
    );
    head.node.append(labelled('Title', this._title), this._error, caption);
    this._editor = new Widget({ node: this._description });
    this._preview = new Panel();
    this._preview.addClass('quanthub-share-preview');
    Object.assign(this._preview.node.style, {
      border: 'var(--jp-border-width) solid var(--jp-border-color1)',
      padding: '0 8px',
      minHeight: '8em',
      maxHeight: '20em',
      overflow: 'auto'
    });
    this._preview.hide();
    const foot = new Widget();
    foot.node.append(labelled('Tags (comma-separated, optional)', this._tags));
    for (const part of [head, this._editor, this._preview, foot]) {
      this.addWidget(part);
    }
  }

  getValue(): IShareForm {
    return {
      title: this._title.value,
      description: this._description.value,
      tags: this._tags.value
    };
  }

  /** Whether the form can be shared: a title is given; if not, say so, focus the title. */
  validate(): boolean {
    if (this._title.value.trim()) {
      return true;
    }
    this._error.hidden = false;
    this._title.focus();
    return false;
  }

  dispose(): void {
    this._renderer?.dispose();
    super.dispose();
  }

  /** Between the description's text and its rendering (by the registry's Markdown
   * renderer: sanitized, as the lab renders Markdown cells). */
  private async _togglePreview(): Promise<void> {
    const previewing = !this._preview.isHidden;
    if (previewing) {
      this._preview.hide();
      this._editor.show();
      this._toggle.textContent = 'Preview';
      this._toggle.setAttribute('aria-pressed', 'false');
      this._description.focus();
      return;
    }
    this._renderer?.dispose();
    const renderer = this._rendermime.createRenderer('text/markdown');
    this._renderer = renderer;
    const text = this._description.value.trim() ? this._description.value : '*No description.*';
    this._preview.addWidget(renderer);
    this._editor.hide();
    this._preview.show();
    this._toggle.textContent = 'Edit';
    this._toggle.setAttribute('aria-pressed', 'true');
    await renderer.renderModel(new MimeModel({ data: { 'text/markdown': text } }));
  }

  private _rendermime: IRenderMimeRegistry;
  private _title: HTMLInputElement;
  private _error: HTMLDivElement;
  private _toggle: HTMLButtonElement;
  private _description: HTMLTextAreaElement;
  private _tags: HTMLInputElement;
  private _editor: Widget;
  private _preview: Panel;
  private _renderer: IRenderMime.IRenderer | null = null;
}

/** The dialog: Share with an empty title keeps it open, with its message shown. */
class ShareDialog extends Dialog<IShareForm> {
  constructor(form: ShareForm) {
    super({
      title: 'Share to the community',
      body: form,
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Share' })],
      defaultButton: ACCEPT,
      focusNodeSelector: '.quanthub-share-title'
    });
    this._form = form;
  }

  resolve(index?: number): void {
    // Enter in a field and the Share button both come here; Cancel, Escape and the close
    // button do not need a title.
    if ((index ?? ACCEPT) === ACCEPT && !this._form.validate()) {
      return;
    }
    super.resolve(index);
  }

  private _form: ShareForm;
}

/** Ask for the post's title, description and tags, starting from `initial`; the values as
 * typed, or null when the user cancelled. `notice`, if given, is shown above the form. */
export async function askShare(
  initial: IShareForm,
  rendermime: IRenderMimeRegistry,
  notice = ''
): Promise<IShareForm | null> {
  const result = await new ShareDialog(new ShareForm(initial, rendermime, notice)).launch();
  return result.button.accept && result.value ? result.value : null;
}
