/** What the admin is told: the last API error, the last thing done, and the confirm step before a delete. */
import { HttpError } from '../shared/api';
import { byId, show } from '../shared/dom';
import { SessionEnded } from './session';

const el = {
  error: () => byId('error', HTMLDivElement),
  errorText: () => byId('error-text', HTMLSpanElement),
  notice: () => byId('notice', HTMLParagraphElement),
  confirm: () => byId('confirm', HTMLDialogElement),
  confirmText: () => byId('confirm-text', HTMLParagraphElement),
};

/** Shows an error; an API error's `code` goes to `data-code` and after the message. */
export function report(err: unknown): void {
  // The login form already says why the session ended.
  if (err instanceof SessionEnded) return;
  const message = err instanceof Error ? err.message : String(err);
  const code = err instanceof HttpError ? err.code : '';
  el.errorText().textContent = code ? `${message} (${code})` : message;
  el.error().dataset.code = code;
  show(el.error(), true);
  el.notice().textContent = '';
}

export function clearError(): void {
  show(el.error(), false);
  el.error().dataset.code = '';
}

export function notify(text: string): void {
  el.notice().textContent = text;
}

/**
 * Runs one action of the admin's: its button is disabled meanwhile (no double submits), the previous
 * error goes away, and a failure is reported. Resolves to whether it succeeded.
 */
export async function act(button: HTMLButtonElement | undefined, work: () => Promise<void>): Promise<boolean> {
  if (button) button.disabled = true;
  clearError();
  try {
    await work();
    return true;
  } catch (err) {
    report(err);
    return false;
  } finally {
    if (button) button.disabled = false;
  }
}

/** Asks before something that cannot be undone; resolves to true only for the confirm button. */
export function confirmStep(question: string): Promise<boolean> {
  const dialog = el.confirm();
  el.confirmText().textContent = question;
  dialog.returnValue = '';
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
  });
}

export function wireFeedback(): void {
  byId('error-dismiss', HTMLButtonElement).addEventListener('click', clearError);
}
