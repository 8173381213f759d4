// SIP over UDP for the server's one socket (Linux). Node's dgram costs the JS thread, per datagram, a
// recvmsg or sendto syscall, a callback and a fresh buffer: most of what SIP over UDP cost it
// (README, Benchmark). Here the JS thread receives with recvmmsg, everything readable in one go,
// handed to JS as one block in one call; and what a callback sends is written with one sendmmsg
// at its end (or every 16 datagrams). Only what the kernel cannot take at once (its send buffer is
// full) goes to a thread of its own that waits for room, so the JS thread never blocks. Handing
// every batch to that thread instead cost more CPU than the syscalls it saved the JS thread: waking
// a thread on the other core is dear on a VM (README, Benchmark). IPv4 only, as the transport that
// uses it.
#include <uv.h>

#include "addon.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr int kBatch = 64;
constexpr int kRounds = 4;  // recvmmsg calls per wake-up at most: other handles get their turn
constexpr size_t kSlot = 65536;  // the largest UDP payload fits
constexpr size_t kFlushAt = 16;  // queued sends written without waiting for flush()

struct Outgoing {
  uint32_t addr;
  uint16_t port;
  uint32_t len;
  char data[];
};

// The sendmmsg headers for a batch of datagrams; each thread that sends has its own.
struct Scratch {
  std::vector<mmsghdr> out;
  std::vector<iovec> vec;
  std::vector<sockaddr_in> to;

  void prepare(const std::vector<Outgoing*>& batch) {
    size_t n = batch.size();
    out.assign(n, mmsghdr{});
    vec.resize(n);
    to.assign(n, sockaddr_in{});
    for (size_t i = 0; i < n; i++) {
      to[i].sin_family = AF_INET;
      to[i].sin_port = htons(batch[i]->port);
      to[i].sin_addr.s_addr = htonl(batch[i]->addr);
      vec[i] = {batch[i]->data, batch[i]->len};
      out[i].msg_hdr.msg_name = &to[i];
      out[i].msg_hdr.msg_namelen = sizeof(sockaddr_in);
      out[i].msg_hdr.msg_iov = &vec[i];
      out[i].msg_hdr.msg_iovlen = 1;
    }
  }
};

// Writes batch[from..] with sendmmsg without waiting; returns how many are done (sent, or dropped
// as UDP drops what cannot go: an unreachable address). Stops at EAGAIN/ENOBUFS: the send buffer is
// full for now.
size_t WriteSome(int fd, Scratch& sc, size_t from, size_t n) {
  size_t done = from;
  while (done < n) {
    size_t chunk = n - done > 1024 ? 1024 : n - done;
    int r = sendmmsg(fd, &sc.out[done], static_cast<unsigned>(chunk), MSG_DONTWAIT);
    if (r > 0) {
      done += r;
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
      break;
    } else {
      done++;
    }
  }
  return done;
}

struct Socket {
  int fd = -1;
  bool closed = false;
  wac::Watch watch;
  std::vector<char> arena;
  mmsghdr msgs[kBatch];
  iovec iov[kBatch];
  sockaddr_in from[kBatch];

  // Sending: `pending` fills on the JS thread and flush() writes it. What the kernel refused goes to
  // `queue` for the sender thread; while that thread holds any (`behind`), later datagrams queue
  // behind them, so that one peer's datagrams keep their order.
  std::vector<Outgoing*> pending;
  Scratch scratch;  // the JS thread's
  std::mutex m;
  std::condition_variable cv;
  std::vector<Outgoing*> queue;
  bool behind = false;  // under m: the thread holds datagrams or has some queued
  std::atomic<bool> stopping{false};
  std::thread sender;

  // Reads what is readable (up to kRounds batches) into one block: `count` records of 4 uint32
  // (offset, length, address, port), then the datagrams.
  void ready() {
    std::vector<char> data;        // the datagrams, back to back
    std::vector<uint32_t> records;  // 4 per datagram, offsets still relative to `data`
    for (int round = 0; round < kRounds; round++) {
      for (int i = 0; i < kBatch; i++) {
        iov[i] = {arena.data() + i * kSlot, kSlot};
        memset(&msgs[i], 0, sizeof(mmsghdr));
        msgs[i].msg_hdr.msg_name = &from[i];
        msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_in);
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
      }
      int n = recvmmsg(fd, msgs, kBatch, MSG_DONTWAIT, nullptr);
      if (n <= 0) break;
      // The arena is reused by the next round: keep this round's datagrams now.
      for (int i = 0; i < n; i++) {
        if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) continue;
        records.insert(records.end(), {static_cast<uint32_t>(data.size()), msgs[i].msg_len,
                                       ntohl(from[i].sin_addr.s_addr), ntohs(from[i].sin_port)});
        data.insert(data.end(), arena.data() + i * kSlot, arena.data() + i * kSlot + msgs[i].msg_len);
      }
      if (n < kBatch) break;
    }
    uint32_t count = static_cast<uint32_t>(records.size() / 4);
    if (count == 0) return;
    size_t head = 16 * static_cast<size_t>(count);
    char* block = static_cast<char*>(malloc(head + data.size()));
    if (!block) return;
    for (uint32_t k = 0; k < count; k++) records[4 * k] += static_cast<uint32_t>(head);
    memcpy(block, records.data(), head);
    memcpy(block + head, data.data(), data.size());
    watch.deliver(block, head + data.size(), count, true);
  }

  void flush() {
    if (pending.empty()) return;
    {
      std::lock_guard<std::mutex> l(m);
      if (behind) {
        queue.insert(queue.end(), pending.begin(), pending.end());
        pending.clear();
        return;
      }
    }
    scratch.prepare(pending);
    size_t done = WriteSome(fd, scratch, 0, pending.size());
    for (size_t i = 0; i < done; i++) free(pending[i]);
    if (done < pending.size()) {
      {
        std::lock_guard<std::mutex> l(m);
        queue.insert(queue.end(), pending.begin() + done, pending.end());
        behind = true;
      }
      cv.notify_one();
    }
    pending.clear();
  }

  // The sender thread: writes what flush() could not, waiting for room in the send buffer.
  void send() {
    std::vector<Outgoing*> batch;
    Scratch sc;
    for (;;) {
      {
        std::unique_lock<std::mutex> l(m);
        if (queue.empty()) behind = false;
        cv.wait(l, [&] { return stopping.load() || !queue.empty(); });
        if (queue.empty()) return;
        batch.swap(queue);
      }
      sc.prepare(batch);
      size_t n = batch.size();
      size_t done = 0;
      for (int waits = 0; done < n;) {
        size_t now = WriteSome(fd, sc, done, n);
        if (now > done) waits = 0;
        done = now;
        if (done == n) break;
        // Wait for room (up to a second) rather than lose the datagram at once; not when closing,
        // which must not keep the JS thread waiting. After that UDP loses it.
        if (waits == 20 || stopping.load()) {
          done++;
          waits = 0;
          continue;
        }
        pollfd p{fd, POLLOUT, 0};
        ::poll(&p, 1, 50);
        waits++;
      }
      for (Outgoing* o : batch) free(o);
      batch.clear();
    }
  }

  // close(): what was queued is tried once more (what the kernel still refuses is lost); then the
  // sender stops and the socket and JS are let go.
  void shutdown() {
    if (closed) return;
    closed = true;
    flush();
    {
      std::lock_guard<std::mutex> l(m);
      stopping.store(true);
    }
    cv.notify_one();
    if (sender.joinable()) sender.join();
    watch.stop();
    close(fd);
  }
};

// open(address, port, recvBufferBytes, sendBufferBytes, onBatch(block, count)) -> handle
napi_value Open(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  char address[64];
  size_t len;
  uint32_t port, rcv, snd;
  if (!wac::OpenArgs(env, info, argv) || napi_get_value_string_utf8(env, argv[0], address, sizeof address, &len) != napi_ok ||
      napi_get_value_uint32(env, argv[1], &port) != napi_ok || napi_get_value_uint32(env, argv[2], &rcv) != napi_ok ||
      napi_get_value_uint32(env, argv[3], &snd) != napi_ok || port > 65535) {
    return wac::Throw(env, "open(address, port, recvBuffer, sendBuffer, onBatch)", 0);
  }
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, address, &sa.sin_addr) != 1) return wac::Throw(env, "not an IPv4 address", 0);
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return wac::Throw(env, "socket", errno);
  // Kernel caps (net.core.rmem_max, wmem_max) apply; a refusal keeps the default.
  int r = static_cast<int>(rcv), w = static_cast<int>(snd);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &r, sizeof r);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &w, sizeof w);
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) {
    int e = errno;
    close(fd);
    return wac::Throw(env, "bind", e);
  }
  Socket* sock = new Socket();
  sock->fd = fd;
  sock->arena.resize(kBatch * kSlot);
  if (!sock->watch.start(env, fd, argv[4], "wac_udp", sock)) {
    close(fd);
    delete sock;
    return wac::Throw(env, "uv_poll", EIO);
  }
  sock->sender = std::thread([sock] { sock->send(); });
  return wac::Handle(env, sock);
}

// port(handle) -> the bound port
napi_value Port(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  Socket* s = wac::Args<Socket>(env, info, argv);
  if (!s || s->closed) return wac::Throw(env, "port: socket closed", EBADF);
  sockaddr_in sa{};
  socklen_t sl = sizeof sa;
  if (getsockname(s->fd, reinterpret_cast<sockaddr*>(&sa), &sl) < 0) return wac::Throw(env, "getsockname", errno);
  napi_value out;
  napi_create_uint32(env, ntohs(sa.sin_port), &out);
  return out;
}

// send(handle, buffer, address as uint32, port): queued until flush(), never blocks
napi_value Send(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  Socket* s = wac::Args<Socket>(env, info, argv);
  void* data;
  size_t len;
  uint32_t addr, port;
  if (!s || s->closed || napi_get_buffer_info(env, argv[1], &data, &len) != napi_ok ||
      napi_get_value_uint32(env, argv[2], &addr) != napi_ok || napi_get_value_uint32(env, argv[3], &port) != napi_ok ||
      len > kSlot || port > 65535) {
    return nullptr;
  }
  Outgoing* o = static_cast<Outgoing*>(malloc(sizeof(Outgoing) + len));
  if (!o) return nullptr;
  o->addr = addr;
  o->port = static_cast<uint16_t>(port);
  o->len = static_cast<uint32_t>(len);
  memcpy(o->data, data, len);
  s->pending.push_back(o);
  // A long callback's sends go out as it runs, a few at a time, not as one burst at its end that a
  // peer's receive queue may not hold.
  if (s->pending.size() >= kFlushAt) s->flush();
  return nullptr;
}

// flush(handle): writes what send() queued, in one sendmmsg
napi_value Flush(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  Socket* s = wac::Args<Socket>(env, info, argv);
  if (s && !s->closed) s->flush();
  return nullptr;
}

}  // namespace

napi_value wac::InitUdp(napi_env env) {
  return wac::Methods(env, {{"open", Open}, {"port", Port}, {"send", Send}, {"flush", Flush}, {"close", wac::Close<Socket>}});
}
