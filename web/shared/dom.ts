/** Small DOM helpers shared by the pages. */

/** The element with `id`, checked to be of `type`: a page whose HTML lost an id fails at load, loudly. */
export function byId<T extends HTMLElement>(id: string, type: { new (): T }): T {
  const el = document.getElementById(id);
  if (!(el instanceof type)) throw new Error(`#${id}: expected a ${type.name}, found ${el ? el.tagName : 'nothing'}`);
  return el;
}

export function show(el: HTMLElement, visible: boolean): void {
  el.hidden = !visible;
}

/** A query parameter as a flag: present and not "0"/"false". */
export function flag(name: string): boolean {
  const v = new URLSearchParams(location.search).get(name);
  return v !== null && v !== '0' && v !== 'false';
}

/** Attribute values: `true` sets an empty attribute, `false` and `undefined` leave it out. */
export type Attrs = Record<string, string | number | boolean | undefined>;

/** A new element with attributes and children (strings become text, never HTML). */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    el.setAttribute(name, value === true ? '' : String(value));
  }
  el.append(...children);
  return el;
}
