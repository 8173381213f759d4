/** Which section shows: the page's hash (#users, #mappings, #groups, #live), so a reload stays put. */
import { byId, show } from '../shared/dom';
import { clearError, notify } from './feedback';

/** A part of the console; `enter` loads what it shows, `leave` stops whatever keeps running (polling). */
export interface Section {
  name: string;
  enter(): void;
  leave(): void;
}

export class Nav {
  private current: Section | undefined;

  constructor(private readonly sections: Section[]) {
    window.addEventListener('hashchange', () => {
      if (this.current) this.go();
    });
  }

  /** Shows the section the hash names (the first one otherwise). */
  go(): void {
    const name = location.hash.slice(1);
    const next = this.sections.find((s) => s.name === name) ?? this.sections[0];
    this.current?.leave();
    this.current = next;
    // What was said about the previous section no longer applies.
    clearError();
    notify('');
    for (const s of this.sections) {
      show(byId(`section-${s.name}`, HTMLElement), s === next);
      byId(`nav-${s.name}`, HTMLAnchorElement).classList.toggle('active', s === next);
    }
    next.enter();
  }

  /** Logged out: nothing shows, nothing runs. */
  stop(): void {
    this.current?.leave();
    this.current = undefined;
  }
}
