import { expect } from 'chai';
import dgram from 'node:dgram';
import { Flow } from '../../signaling/transport/flow';
import { UdpTransport } from '../../signaling/transport/udp';

describe('SIP over UDP: flows', () => {
  it('gives datagrams in a run from one peer the same flow object, and each peer its own flow and replies', async () => {
    const got: Array<{ text: string; flow: Flow }> = [];
    const udp = new UdpTransport({ onMessage: (data, flow) => got.push({ text: data.toString('latin1'), flow }), onFlowClosed: () => undefined });
    const port = await udp.listen(0, '127.0.0.1');
    const peers = await Promise.all([0, 1].map(() => new Promise<dgram.Socket>((resolve) => {
      const s = dgram.createSocket('udp4');
      s.bind(0, '127.0.0.1', () => resolve(s));
    })));
    try {
      const send = (s: dgram.Socket, text: string) => new Promise<void>((r) => s.send(text, port, '127.0.0.1', () => r()));
      const until = async (n: number) => {
        for (let i = 0; i < 200 && got.length < n; i++) await new Promise((r) => setTimeout(r, 5));
      };
      await send(peers[0], 'a1');
      await send(peers[0], 'a2');
      await until(2);
      await send(peers[1], 'b1');
      await until(3);
      await send(peers[0], 'a3');
      await until(4);
      expect(got.map((g) => g.text)).to.deep.equal(['a1', 'a2', 'b1', 'a3']);
      const [a1, a2, b1, a3] = got.map((g) => g.flow);
      expect(a1, 'a run from one peer shares its flow').to.equal(a2);
      expect(b1).to.not.equal(a1);
      expect([a1.id, b1.id, a3.id]).to.deep.equal([0, 1, 0].map((i) => `u127.0.0.1:${peers[i].address().port}`));
      // Replies go to each peer's own address.
      const reply = new Promise<string>((r) => peers[1].once('message', (d) => r(d.toString('latin1'))));
      expect(b1.send(Buffer.from('to-b'))).to.equal(true);
      expect(await reply).to.equal('to-b');
    } finally {
      for (const s of peers) s.close();
      await udp.close();
    }
  });
});
