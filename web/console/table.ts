/** Table rows for the lists: cells that name their field, row buttons with a test id, a count line. */
import { h } from '../shared/dom';

/** A cell whose `data-field` lets a test read one value of a row. */
export function cell(field: string, ...content: (Node | string)[]): HTMLTableCellElement {
  return h('td', { 'data-field': field }, ...content);
}

export function rowButton(label: string, testid: string, onClick: (button: HTMLButtonElement) => void, danger = false): HTMLButtonElement {
  const b = h('button', { type: 'button', 'data-testid': testid, class: danger ? 'danger' : undefined }, label);
  b.addEventListener('click', () => onClick(b));
  return b;
}

/** Replaces the rows; `count` says how many there are, and of how many when the list was cut. */
export function fill(tbody: HTMLTableSectionElement, rows: HTMLTableRowElement[], count: HTMLElement, total: number, noun: string): void {
  tbody.replaceChildren(...rows);
  const shown = rows.length < total ? `${rows.length} of ${total}` : String(total);
  count.textContent = `${shown} ${noun}${total === 1 ? '' : 's'}`;
}

/** A local date and time, to the second. */
export function time(iso: string): string {
  return new Date(iso).toLocaleString();
}
