/**
 * The softphone page (/phone/). Query options: `loopback=1` offers only 127.0.0.1 ICE candidates
 * (two browsers on one machine, as in the tests); `debug=1` turns on JsSIP's log in the console.
 */
import { debug } from 'jssip';
import { bareToken, loadConfig, whoAmI, type WebConfig } from '../shared/api';
import { byId, flag } from '../shared/dom';
import { Phone, type PhoneView } from './phone';
import { el, logLine, render, showLogin, showPhone } from './ui';

declare global {
  interface Window {
    /** The running phone, for the browser tests (its `session`, `connection`, `state`). */
    phone?: Phone;
  }
}

const loopback = flag('loopback');
if (flag('debug')) debug.enable('JsSIP:*');
else debug.disable();

const config: Promise<WebConfig> = loadConfig();
let phone: Phone | undefined;

function onChange(v: PhoneView): void {
  render(v);
  // Never registered: the credentials (or the token) are wrong; back to the form with the reason.
  if (v.reg === 'failed' && !v.everRegistered) logout(`Could not register: ${v.regDetail}`);
}

function start(cfg: WebConfig, uri: string, auth: { password: string } | { token: string }): void {
  const p = new Phone({ wsUrl: cfg.wsUrl, uri, loopback, audio: el.audio(), onChange, onLog: logLine, ...auth });
  phone = p;
  window.phone = p;
  showPhone(uri.replace(/^sip:/, ''));
  if (loopback) logLine('loopback mode: only 127.0.0.1 candidates are offered');
  p.start();
}

function logout(error?: string): void {
  phone?.stop();
  phone = undefined;
  window.phone = undefined;
  showLogin(error);
}

async function withButton(button: HTMLButtonElement, work: () => Promise<void>): Promise<void> {
  button.disabled = true;
  try {
    await work();
  } catch (err) {
    showLogin(err instanceof Error ? err.message : String(err));
  } finally {
    button.disabled = false;
  }
}

byId('login-password-form', HTMLFormElement).addEventListener('submit', (e) => {
  e.preventDefault();
  void withButton(byId('login-submit', HTMLButtonElement), async () => {
    const cfg = await config;
    const name = byId('login-username', HTMLInputElement).value.trim();
    const [user, domain = cfg.domain] = name.split('@');
    start(cfg, `sip:${user}@${domain}`, { password: byId('login-password', HTMLInputElement).value });
  });
});

byId('login-token-form', HTMLFormElement).addEventListener('submit', (e) => {
  e.preventDefault();
  void withButton(byId('login-token-submit', HTMLButtonElement), async () => {
    const cfg = await config;
    const token = bareToken(byId('login-token', HTMLTextAreaElement).value);
    const me = await whoAmI(token).catch((err: Error) => {
      throw new Error(`Token refused: ${err.message}`);
    });
    start(cfg, `sip:${me.username}@${me.domain}`, { token });
  });
});

byId('dial-form', HTMLFormElement).addEventListener('submit', (e) => {
  e.preventDefault();
  try {
    phone?.call(el.target().value);
  } catch (err) {
    logLine(`cannot call: ${err instanceof Error ? err.message : String(err)}`);
  }
});
el.answer().addEventListener('click', () => phone?.answer());
el.reject().addEventListener('click', () => phone?.reject());
el.hangup().addEventListener('click', () => phone?.hangup());
byId('logout', HTMLButtonElement).addEventListener('click', () => logout());
// Un-REGISTER when the tab goes away, so calls do not ring a closed page.
window.addEventListener('pagehide', () => phone?.stop());

config.catch((err: Error) => showLogin(`Cannot load the server configuration: ${err.message}`));
