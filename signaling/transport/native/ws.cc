// SIP over plain WebSocket (RFC 6455, RFC 7118) once the upgrade is done (Linux). With Node's sockets
// and the `ws` library every message costs the JS thread a read callback through the stream
// machinery, a frame parser and a write through the stream again: a trivial `ws` responder costs
// twice the kernel's share of a REGISTER (README, Benchmark). Here one epoll set holds every
// connection; whatever is readable on any of them is read, unframed and unmasked, and reaches JS as
// one block in one call. Sends are framed here and written at the end of each JS callback, one write
// per connection. The HTTP upgrade stays in JS (ws.ts), which hands over the socket's descriptor.
#include <uv.h>

#include "addon.h"

#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <string>
#include <unordered_map>
#include <vector>

namespace {

constexpr int kEvents = 256;
constexpr size_t kRead = 65536;
// Output a peer leaves unread beyond this ends its connection rather than the server's memory.
constexpr size_t kMaxPending = 8 * 1024 * 1024;
constexpr size_t kKeep = 16384;  // buffer capacity a connection keeps once it has nothing pending
// Events gathered in one wake-up are handed over past this, long before the block's 32-bit offsets wrap.
constexpr size_t kDeliverAt = 256 * 1024 * 1024;

enum Event : uint32_t { kMessage = 0, kClosed = 1 };

// RFC 3629 well-formed UTF-8: no overlongs, no surrogates, nothing above U+10FFFF.
bool IsUtf8(const uint8_t* p, size_t n) {
  size_t i = 0;
  while (i < n) {
    // SIP is mostly ASCII: eight bytes at a time while no high bit is set.
    uint64_t w;
    while (i + 8 <= n && (memcpy(&w, p + i, 8), (w & 0x8080808080808080ULL) == 0)) i += 8;
    if (i == n) break;
    uint8_t c = p[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t len;
    uint8_t lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      if (c == 0xe0) lo = 0xa0;
      if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      if (c == 0xf0) lo = 0x90;
      if (c == 0xf4) hi = 0x8f;
    } else return false;
    if (i + len > n || p[i + 1] < lo || p[i + 1] > hi) return false;
    for (size_t k = 2; k < len; k++)
      if ((p[i + k] & 0xc0) != 0x80) return false;
    i += len;
  }
  return true;
}

struct Conn {
  uint32_t id;
  int fd;
  std::string in;       // received bytes not yet a whole frame
  std::string message;  // the fragments of a message in progress
  uint8_t messageOp = 0;  // its opcode (1 text, 2 binary); 0 when none is in progress
  std::string out;      // framed, not yet written
  size_t outAt = 0;     // how much of `out` the socket took
  bool alive = true;    // heard from since the last sweep
  bool dirty = false;   // in the server's list of connections with output to write
  bool waiting = false;  // the socket was full: written again when epoll says it is writable
  // A close frame is queued: JS was told the connection is closed; once the frame is written the
  // sending side is shut, and the socket closes at the peer's EOF or the next sweeps.
  bool closing = false;
};

struct Server {
  wac::Watch watch;
  int ep = -1;
  bool closed = false;
  size_t maxPayload = 65536;
  std::unordered_map<uint32_t, Conn*> conns;
  std::vector<Conn*> dirty;
  std::vector<char> buf = std::vector<char>(kRead);
  // Events for JS: 4 uint32 each (kind, id, offset, length), offsets relative to `data`.
  std::vector<uint32_t> records;
  std::string data;

  void event(Event kind, uint32_t id, const char* p, size_t n) {
    records.insert(records.end(), {kind, id, static_cast<uint32_t>(data.size()), static_cast<uint32_t>(n)});
    data.append(p, n);
  }

  // Hands the events gathered so far to JS as one block: the records, then the payloads.
  void deliver(bool fromLoop) {
    uint32_t count = static_cast<uint32_t>(records.size() / 4);
    if (count == 0) return;
    size_t head = 16 * static_cast<size_t>(count);
    char* block = static_cast<char*>(malloc(head + data.size()));
    if (block) {
      for (uint32_t k = 0; k < count; k++) records[4 * k + 2] += static_cast<uint32_t>(head);
      memcpy(block, records.data(), head);
      memcpy(block + head, data.data(), data.size());
    }
    size_t size = head + data.size();
    records.clear();
    data.clear();
    if (block) watch.deliver(block, size, count, fromLoop);
  }

  void frame(Conn* c, uint8_t op, const char* p, size_t n) {
    char h[10];
    size_t hl;
    h[0] = static_cast<char>(0x80 | op);
    if (n < 126) {
      h[1] = static_cast<char>(n);
      hl = 2;
    } else if (n < 65536) {
      h[1] = 126;
      h[2] = static_cast<char>(n >> 8);
      h[3] = static_cast<char>(n);
      hl = 4;
    } else {
      h[1] = 127;
      for (int k = 0; k < 8; k++) h[2 + k] = static_cast<char>(static_cast<uint64_t>(n) >> (56 - 8 * k));
      hl = 10;
    }
    c->out.append(h, hl);
    c->out.append(p, n);
    if (!c->dirty) {
      c->dirty = true;
      dirty.push_back(c);
    }
  }

  // Ends a connection at once and reports it to JS (unless that was done when it began closing).
  void drop(Conn* c) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, nullptr);
    close(c->fd);
    conns.erase(c->id);
    if (!c->closing) event(kClosed, c->id, "", 0);
    // Freed when the dirty list is next walked: a caller may still hold it.
    c->fd = -1;
    if (!c->dirty) {
      c->dirty = true;
      dirty.push_back(c);
    }
  }

  // Fails the connection (RFC 6455 §7.1.7): a close frame with the status, then closing (`Conn::closing`).
  void fail(Conn* c, uint16_t status) {
    char code[2] = {static_cast<char>(status >> 8), static_cast<char>(status)};
    frame(c, 0x8, code, 2);
    startClosing(c);
  }

  void startClosing(Conn* c) {
    c->closing = true;
    c->alive = true;
    event(kClosed, c->id, "", 0);
  }

  // Takes whole frames from p[0..n) and returns how many bytes it used.
  size_t unframe(Conn* c, char* p, size_t n) {
    size_t at = 0;
    while (!c->closing && n - at >= 2) {
      uint8_t b0 = static_cast<uint8_t>(p[at]), b1 = static_cast<uint8_t>(p[at + 1]);
      bool fin = b0 & 0x80;
      uint8_t op = b0 & 0x0f;
      uint64_t len = b1 & 0x7f;
      size_t hl = 2;
      if (len == 126) {
        if (n - at < 4) break;
        len = (static_cast<uint64_t>(static_cast<uint8_t>(p[at + 2])) << 8) | static_cast<uint8_t>(p[at + 3]);
        hl = 4;
      } else if (len == 127) {
        if (n - at < 10) break;
        len = 0;
        for (int k = 0; k < 8; k++) len = (len << 8) | static_cast<uint8_t>(p[at + 2 + k]);
        hl = 10;
      }
      bool control = op & 0x8;
      // No extension was agreed, so no RSV bit; a client masks every frame (§5.1, §5.2).
      if ((b0 & 0x70) || !(b1 & 0x80) || (control && (!fin || len > 125 || op > 0xa)) || (!control && op > 2) ||
          (op == 0 && c->messageOp == 0) || ((op == 1 || op == 2) && c->messageOp != 0)) {
        fail(c, 1002);
        break;
      }
      if (!control && len > maxPayload - c->message.size()) {
        fail(c, 1009);
        break;
      }
      hl += 4;
      if (n - at < hl || n - at - hl < len) break;
      uint8_t* mask = reinterpret_cast<uint8_t*>(p + at + hl - 4);
      char* payload = p + at + hl;
      for (uint64_t k = 0; k < len; k++) payload[k] ^= mask[k & 3];
      at += hl + len;
      c->alive = true;
      if (op == 0x9) {
        frame(c, 0xa, payload, len);
      } else if (op == 0x8) {
        // Echo the status (§5.5.1); a one-byte body or a status no endpoint may send is a protocol
        // error, a reason that is not UTF-8 a data error.
        uint16_t status = len >= 2 ? static_cast<uint16_t>((static_cast<uint8_t>(payload[0]) << 8) | static_cast<uint8_t>(payload[1])) : 1000;
        bool valid = (status >= 1000 && status <= 1014 && status != 1004 && status != 1005 && status != 1006) || (status >= 3000 && status <= 4999);
        if (len == 1 || !valid) fail(c, 1002);
        else if (len > 2 && !IsUtf8(reinterpret_cast<uint8_t*>(payload) + 2, len - 2)) fail(c, 1007);
        else {
          frame(c, 0x8, payload, len >= 2 ? 2 : 0);
          startClosing(c);
        }
      } else if (op != 0xa) {
        if (fin && op != 0) deliverMessage(c, op, payload, len);
        else {
          if (op != 0) c->messageOp = op;
          c->message.append(payload, len);
          if (fin) {
            deliverMessage(c, c->messageOp, c->message.data(), c->message.size());
            c->messageOp = 0;
            c->message.clear();
            c->message.shrink_to_fit();
          }
        }
      }
    }
    return at;
  }

  void deliverMessage(Conn* c, uint8_t op, const char* p, size_t n) {
    if (op == 1 && !IsUtf8(reinterpret_cast<const uint8_t*>(p), n)) fail(c, 1007);
    else event(kMessage, c->id, p, n);
  }

  void readable(Conn* c) {
    ssize_t r = read(c->fd, buf.data(), kRead);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      drop(c);
      return;
    }
    if (r < 0) return;
    received(c, buf.data(), static_cast<size_t>(r));
  }

  void received(Conn* c, char* p, size_t n) {
    if (c->closing) return;
    if (c->in.empty()) {
      size_t used = unframe(c, p, n);
      if (!c->closing && used < n) c->in.assign(p + used, n - used);
    } else {
      c->in.append(p, n);
      size_t used = unframe(c, &c->in[0], c->in.size());
      c->in.erase(0, c->closing ? c->in.size() : used);
      if (c->in.empty() && c->in.capacity() > kKeep) std::string().swap(c->in);
    }
  }

  // After a call from JS: writes what is waiting and reports what happened.
  void settle() {
    flush();
    deliver(false);
  }

  // Writes what each connection has waiting; one write per connection.
  void flush() {
    std::vector<Conn*> list;
    list.swap(dirty);
    for (Conn* c : list) {
      c->dirty = false;
      if (c->fd < 0) {
        delete c;
        continue;
      }
      if (!c->waiting) write(c);
      else if (c->out.size() - c->outAt > kMaxPending) drop(c);
    }
  }

  void write(Conn* c) {
    while (c->outAt < c->out.size()) {
      ssize_t w = ::send(c->fd, c->out.data() + c->outAt, c->out.size() - c->outAt, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w > 0) {
        c->outAt += static_cast<size_t>(w);
        continue;
      }
      if (w < 0 && errno == EINTR) continue;
      if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (!c->waiting) {
          c->waiting = true;
          epoll_event e{EPOLLIN | EPOLLOUT, {}};
          e.data.u32 = c->id;
          epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
        }
        return;
      }
      drop(c);
      return;
    }
    // An idle connection keeps no large buffer from its past (tens of thousands of them stay open).
    if (c->out.capacity() > kKeep) std::string().swap(c->out);
    else c->out.clear();
    c->outAt = 0;
    if (c->waiting) {
      c->waiting = false;
      epoll_event e{EPOLLIN, {}};
      e.data.u32 = c->id;
      epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
    }
    // Not close() yet: unread input would make it a reset, which can cost the peer the close frame.
    if (c->closing) ::shutdown(c->fd, SHUT_WR);
  }

  void ready() {
    epoll_event events[kEvents];
    int n = epoll_wait(ep, events, kEvents, 0);
    for (int i = 0; i < n; i++) {
      auto it = conns.find(events[i].data.u32);
      if (it == conns.end()) continue;
      Conn* c = it->second;
      if (events[i].events & EPOLLOUT) {
        write(c);
        if (c->fd < 0) continue;  // dropped: freed by the flush below
      }
      if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) readable(c);
      if (data.size() > kDeliverAt) {
        flush();
        deliver(true);
        if (closed) return;
      }
    }
    flush();  // pongs and close frames
    deliver(true);
  }

  // close(): every connection ends at once, with nothing sent.
  void shutdown() {
    if (closed) return;
    closed = true;
    for (auto& kv : conns) {
      close(kv.second->fd);
      if (!kv.second->dirty) delete kv.second;
      else kv.second->fd = -1;
    }
    conns.clear();
    for (Conn* c : dirty) delete c;
    dirty.clear();
    watch.stop();
    close(ep);
  }
};

// open(maxPayload, onEvents(block, count)) -> handle
napi_value Open(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  uint32_t maxPayload;
  if (!wac::OpenArgs(env, info, argv) || napi_get_value_uint32(env, argv[0], &maxPayload) != napi_ok) {
    return wac::Throw(env, "open(maxPayload, onEvents)", 0);
  }
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) return wac::Throw(env, "epoll_create1", errno);
  Server* s = new Server();
  s->ep = ep;
  s->maxPayload = maxPayload;
  if (!s->watch.start(env, ep, argv[1], "wac_ws", s)) {
    close(ep);
    delete s;
    return wac::Throw(env, "uv_poll", EIO);
  }
  return wac::Handle(env, s);
}

// adopt(handle, id, fd, response, head): takes a duplicate of the upgraded socket `fd` (the caller then
// closes its own), queues `response` (the 101) and reads `head`, the bytes that came after the upgrade
// request, as the connection's first input. Calls no JS: the caller's flush() writes and delivers.
napi_value Adopt(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  Server* s = wac::Args<Server>(env, info, argv);
  uint32_t id;
  int32_t fd;
  void *resp, *head;
  size_t respLen, headLen;
  if (!s || s->closed || napi_get_value_uint32(env, argv[1], &id) != napi_ok || napi_get_value_int32(env, argv[2], &fd) != napi_ok ||
      napi_get_buffer_info(env, argv[3], &resp, &respLen) != napi_ok || napi_get_buffer_info(env, argv[4], &head, &headLen) != napi_ok ||
      fd < 0 || s->conns.count(id)) {
    return wac::Throw(env, "adopt(handle, id, fd, response, head)", 0);
  }
  int own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (own < 0) return wac::Throw(env, "dup", errno);
  fcntl(own, F_SETFL, fcntl(own, F_GETFL) | O_NONBLOCK);
  int one = 1;
  setsockopt(own, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // a SIP message is one write: no Nagle wait
  Conn* c = new Conn();
  c->id = id;
  c->fd = own;
  epoll_event e{EPOLLIN, {}};
  e.data.u32 = id;
  if (epoll_ctl(s->ep, EPOLL_CTL_ADD, own, &e) < 0) {
    int err = errno;
    close(own);
    delete c;
    return wac::Throw(env, "epoll_ctl", err);
  }
  s->conns[id] = c;
  c->out.assign(static_cast<char*>(resp), respLen);
  c->dirty = true;
  s->dirty.push_back(c);
  if (headLen) {
    std::string copy(static_cast<char*>(head), headLen);  // unmasked in place: not the caller's buffer
    s->received(c, &copy[0], copy.size());
  }
  return nullptr;
}

// send(handle, id, data) -> false when the connection is gone. A text frame when data is UTF-8
// (JsSIP reads binary frames as latin1), else binary; written by the next flush().
napi_value Send(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  Server* s = wac::Args<Server>(env, info, argv);
  uint32_t id;
  void* data;
  size_t len;
  bool ok = false;
  if (s && !s->closed && napi_get_value_uint32(env, argv[1], &id) == napi_ok && napi_get_buffer_info(env, argv[2], &data, &len) == napi_ok) {
    auto it = s->conns.find(id);
    if (it != s->conns.end() && !it->second->closing) {
      bool text = IsUtf8(static_cast<const uint8_t*>(data), len);
      s->frame(it->second, text ? 0x1 : 0x2, static_cast<const char*>(data), len);
      ok = true;
    }
  }
  napi_value out;
  napi_get_boolean(env, ok, &out);
  return out;
}

// flush(handle): writes what send() framed; connections found dead are reported before it returns.
napi_value Flush(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  Server* s = wac::Args<Server>(env, info, argv);
  if (s && !s->closed) s->settle();
  return nullptr;
}

// sweep(handle): connections not heard from since the last sweep are closed and reported; the others
// are pinged (their pong, or anything else, counts as heard from).
napi_value Sweep(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  Server* s = wac::Args<Server>(env, info, argv);
  if (!s || s->closed) return nullptr;
  std::vector<Conn*> all;
  all.reserve(s->conns.size());
  for (auto& kv : s->conns) all.push_back(kv.second);
  for (Conn* c : all) {
    // A closing peer gets until the second sweep to hang up.
    if (!c->alive) s->drop(c);
    else if (c->closing) c->alive = false;
    else {
      c->alive = false;
      s->frame(c, 0x9, "", 0);
    }
  }
  s->settle();
  return nullptr;
}

}  // namespace

napi_value wac::InitWs(napi_env env) {
  return wac::Methods(env, {{"open", Open}, {"adopt", Adopt}, {"send", Send}, {"flush", Flush}, {"sweep", Sweep}, {"close", wac::Close<Server>}});
}
