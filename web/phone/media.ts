/** WebRTC details the phone needs around JsSIP: loopback-only candidates, bounded ICE gathering, remote audio. */

/**
 * Keeps only the ICE candidates on 127.0.0.1. Used by `?loopback=1` (tests, a single machine):
 * both browsers then meet on loopback, and no other address of the machine is announced.
 */
export function keepLoopbackCandidates(sdp: string): string {
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  return sdp
    .split(eol)
    .filter((line) => !line.startsWith('a=candidate:') || line.split(' ')[4] === '127.0.0.1')
    .join(eol);
}

export function isLoopbackCandidate(c: RTCIceCandidate): boolean {
  return (c.address ?? c.candidate.split(' ')[4]) === '127.0.0.1';
}

/**
 * JsSIP sends the offer/answer only once gathering completes, which can take long (or, with an
 * unreachable STUN/TURN server, tens of seconds). This says "ready" a bounded time after the first
 * candidate, or at once on a loopback candidate when only loopback counts.
 */
export class IceDeadline {
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly ms: number, private readonly loopback: boolean) {}

  onCandidate(candidate: RTCIceCandidate, ready: () => void): void {
    if (this.loopback && isLoopbackCandidate(candidate)) {
      this.clear();
      ready();
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      ready();
    }, this.ms);
  }

  clear(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** Plays whatever the peer connection receives through `audio`, now and as tracks arrive. */
export function playRemoteAudio(pc: RTCPeerConnection, audio: HTMLAudioElement): void {
  const stream = new MediaStream();
  const add = (track: MediaStreamTrack): void => {
    if (track.kind === 'audio' && !stream.getTrackById(track.id)) stream.addTrack(track);
  };
  for (const r of pc.getReceivers()) if (r.track) add(r.track);
  pc.addEventListener('track', (e) => add(e.track));
  audio.srcObject = stream;
  // Autoplay may be refused without a user gesture; the element stays ready for a click on play.
  audio.play().catch(() => undefined);
}

export function stopRemoteAudio(audio: HTMLAudioElement): void {
  audio.srcObject = null;
}
