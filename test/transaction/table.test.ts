import { expect } from 'chai';
import dgram from 'node:dgram';
import net from 'node:net';
import { SipRequest, SipResponse } from '../../signaling/sip/message';
import { parseMessage } from '../../signaling/sip/parser';
import { ClientTransaction } from '../../signaling/transaction/client';
import { TransactionLayer } from '../../signaling/transaction/table';
import { TcpTransport } from '../../signaling/transport/tcp';
import { UdpTransport } from '../../signaling/transport/udp';

const request = (method: string, branch: string): SipRequest => parseMessage(Buffer.from([
  `${method} sip:bob@127.0.0.1 SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:5060;branch=${branch}`, 'Max-Forwards: 70',
  'From: <sip:alice@127.0.0.1>;tag=a', 'To: <sip:bob@127.0.0.1>', 'Call-ID: table-test', `CSeq: 1 ${method}`, 'Content-Length: 0', '', '',
].join('\r\n'))) as SipRequest;

const response = (status: number, method: string, branch: string): SipResponse => parseMessage(Buffer.from([
  `SIP/2.0 ${status} X`, `Via: SIP/2.0/UDP 127.0.0.1:5060;branch=${branch}`,
  'From: <sip:alice@127.0.0.1>;tag=a', 'To: <sip:bob@127.0.0.1>;tag=b', 'Call-ID: table-test', `CSeq: 1 ${method}`, 'Content-Length: 0', '', '',
].join('\r\n'))) as SipResponse;

describe('transaction layer: matching responses to client transactions (RFC 3261 §17.1.3)', () => {
  it('tells an INVITE and its CANCEL apart by CSeq method, and matches no other method on their branch', async () => {
    const udp = new UdpTransport({ onMessage: () => undefined, onFlowClosed: () => undefined });
    await udp.listen(0, '127.0.0.1');
    const peer = await new Promise<dgram.Socket>((resolve) => {
      const s = dgram.createSocket('udp4');
      s.bind(0, '127.0.0.1', () => resolve(s));
    });
    const received: string[] = [];
    peer.on('message', (d) => received.push(d.toString('latin1').split('\r\n')[0]));
    const layer = new TransactionLayer({ onRequest: () => undefined, onCancel: () => undefined, onAck: () => undefined }, (_req, flow) => flow);
    try {
      const flow = udp.flow('127.0.0.1', peer.address().port);
      const got: Array<[string, number]> = [];
      const user = (name: string) => ({ onResponse: (res: SipResponse, _tx: ClientTransaction) => got.push([name, res.status]), onFailure: () => undefined });
      const branch = layer.newBranch();
      layer.sendRequest(request('INVITE', branch), flow, user('invite'));
      layer.sendRequest(request('CANCEL', branch), flow, user('cancel'));
      for (let i = 0; i < 200 && received.length < 2; i++) await new Promise((r) => setTimeout(r, 5));
      expect(received).to.deep.equal(['INVITE sip:bob@127.0.0.1 SIP/2.0', 'CANCEL sip:bob@127.0.0.1 SIP/2.0']);

      expect(layer.receiveResponse(response(200, 'CANCEL', branch))).to.equal(true);
      expect(layer.receiveResponse(response(487, 'INVITE', branch))).to.equal(true);
      expect(layer.receiveResponse(response(200, 'BYE', branch)), 'another method on the same branch').to.equal(false);
      expect(layer.receiveResponse(response(200, 'INVITE', layer.newBranch())), 'an unknown branch').to.equal(false);
      expect(got).to.deep.equal([['cancel', 200], ['invite', 487]]);
    } finally {
      layer.close();
      peer.close();
      await udp.close();
    }
  });

  it('over a reliable flow ends both at their final response: a repeated final matches nothing (Timers D and K are 0)', async () => {
    const received: string[] = [];
    const peer = net.createServer((sock) => sock.on('data', (d) => received.push(d.toString('latin1'))));
    await new Promise<void>((r) => peer.listen(0, '127.0.0.1', () => r()));
    const tcp = new TcpTransport({ onMessage: () => undefined, onFlowClosed: () => undefined }, 65536);
    const layer = new TransactionLayer({ onRequest: () => undefined, onCancel: () => undefined, onAck: () => undefined }, (_req, flow) => flow);
    try {
      const flow = tcp.connect('127.0.0.1', (peer.address() as net.AddressInfo).port);
      const got: Array<[string, number]> = [];
      const user = (name: string) => ({ onResponse: (res: SipResponse) => got.push([name, res.status]), onFailure: () => undefined });
      const branch = layer.newBranch();
      layer.sendRequest(request('INVITE', branch), flow, user('invite'));
      layer.sendRequest(request('CANCEL', branch), flow, user('cancel'));
      for (let i = 0; i < 200 && !received.join('').includes('CANCEL sip:'); i++) await new Promise((r) => setTimeout(r, 5));
      expect(layer.receiveResponse(response(200, 'CANCEL', branch))).to.equal(true);
      expect(layer.receiveResponse(response(487, 'INVITE', branch))).to.equal(true);
      expect(layer.receiveResponse(response(200, 'CANCEL', branch)), 'the CANCEL transaction is gone').to.equal(false);
      expect(layer.receiveResponse(response(487, 'INVITE', branch)), 'the INVITE transaction is gone').to.equal(false);
      expect(got).to.deep.equal([['cancel', 200], ['invite', 487]]);
    } finally {
      layer.close();
      await tcp.close();
      await new Promise((r) => peer.close(r));
    }
  });
});
