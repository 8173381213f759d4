/** Renders a PhoneView into the page; every element it touches has a stable id for tests. */
import { byId, show } from '../shared/dom';
import type { CallState, PhoneView, RegState } from './phone';

export const el = {
  login: () => byId('login', HTMLElement),
  loginError: () => byId('login-error', HTMLParagraphElement),
  phone: () => byId('phone', HTMLElement),
  identity: () => byId('identity', HTMLSpanElement),
  regState: () => byId('reg-state', HTMLSpanElement),
  callState: () => byId('call-state', HTMLSpanElement),
  peer: () => byId('peer', HTMLSpanElement),
  answer: () => byId('answer', HTMLButtonElement),
  reject: () => byId('reject', HTMLButtonElement),
  hangup: () => byId('hangup', HTMLButtonElement),
  call: () => byId('call', HTMLButtonElement),
  target: () => byId('target', HTMLInputElement),
  lastCall: () => byId('last-call', HTMLParagraphElement),
  audio: () => byId('remote-audio', HTMLAudioElement),
  events: () => byId('events', HTMLOListElement),
};

const REG_TEXT: Record<RegState, string> = {
  connecting: 'connecting…', registering: 'registering…', registered: 'registered', unregistered: 'not registered',
  failed: 'registration failed', disconnected: 'disconnected', stopped: 'logged out',
};

const CALL_TEXT: Record<CallState, string> = {
  idle: 'idle', calling: 'calling…', ringing: 'ringing…', incoming: 'incoming call', answering: 'answering…', 'in-call': 'in call',
};

export function showLogin(error?: string): void {
  show(el.login(), true);
  show(el.phone(), false);
  el.loginError().textContent = error ?? '';
  show(el.loginError(), !!error);
}

export function showPhone(identity: string): void {
  show(el.login(), false);
  show(el.phone(), true);
  el.identity().textContent = identity;
  el.events().replaceChildren();
  el.lastCall().textContent = '';
  el.lastCall().dataset.cause = '';
}

export function render(v: PhoneView): void {
  const reg = el.regState();
  reg.dataset.state = v.reg;
  reg.textContent = REG_TEXT[v.reg] + (v.regDetail ? `: ${v.regDetail}` : '');

  const call = el.callState();
  call.dataset.state = v.call;
  call.textContent = CALL_TEXT[v.call];
  el.peer().textContent = v.call === 'idle' ? '' : v.call === 'incoming' ? `from ${v.peer}` : v.peer;

  show(el.answer(), v.call === 'incoming');
  show(el.reject(), v.call === 'incoming');
  show(el.hangup(), v.call === 'calling' || v.call === 'ringing' || v.call === 'answering' || v.call === 'in-call');
  el.call().disabled = v.call !== 'idle' || v.reg !== 'registered';

  if (v.lastCall) {
    el.lastCall().textContent = v.lastCall.text;
    el.lastCall().dataset.cause = v.lastCall.cause;
  }
  document.title = v.call === 'incoming' ? `Incoming call from ${v.peer}` : 'wac-ts phone';
}

const MAX_EVENTS = 50;

export function logLine(line: string): void {
  const li = document.createElement('li');
  li.textContent = `${new Date().toLocaleTimeString()} ${line}`;
  const list = el.events();
  list.prepend(li);
  while (list.children.length > MAX_EVENTS) list.lastElementChild?.remove();
}
