/**
 * ioredis, loaded so that it does not slow down every string method call in the process.
 *
 * ioredis subclasses String (its RESP3 VerbatimString). V8 turns an object into a dictionary when it
 * becomes a new prototype, so String.prototype ends up in dictionary mode, and V8 only turns a
 * prototype back into a fast object when a property load goes through an *object* inheriting from
 * it, which a string primitive is not. Until then optimized code cannot inline `charCodeAt`, `slice`,
 * `indexOf`… and calls a generic inline cache for each: ~10% of the server's CPU per REGISTER, most
 * of it in the SIP parser. A few loads through an inheriting object restore the fast layout.
 */
import Redis from 'ioredis';

restoreFastPrototype(String.prototype);

function restoreFastPrototype(proto: object): void {
  const heir = Object.create(proto) as { fastLayoutProbe?: unknown };
  const probe = () => heir.fastLayoutProbe;
  // V8 acts only once the load site has feedback, which it allocates after a few calls.
  for (let i = 0; i < 32; i++) probe();
}

export default Redis;
export { ReplyError } from 'ioredis';
export type { ChainableCommander } from 'ioredis';
