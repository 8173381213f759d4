// What the addon's parts share: errors, argument unpacking, export tables, and the watched
// descriptor that feeds JS.
#pragma once
#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <string>

namespace wac {

// Throws an Error whose code is the errno's name (EINVAL when err is 0) and returns null.
inline napi_value Throw(napi_env env, const char* what, int err) {
  napi_value code, msg, error;
  const char* name = err ? strerrorname_np(err) : "EINVAL";
  napi_create_string_utf8(env, name ? name : "EIO", NAPI_AUTO_LENGTH, &code);
  std::string text = std::string(what) + (err ? std::string(": ") + strerror(err) : "");
  napi_create_string_utf8(env, text.c_str(), NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, code, msg, &error);
  napi_throw(env, error);
  return nullptr;
}

// The object a call names first (an external made by its open()); the other arguments land in argv,
// missing ones as undefined.
template <typename T, size_t N>
T* Args(napi_env env, napi_callback_info info, napi_value (&argv)[N]) {
  size_t argc = N;
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  void* p = nullptr;
  if (napi_get_value_external(env, argv[0], &p) != napi_ok) return nullptr;
  return static_cast<T*>(p);
}

// An open() call's arguments: true when all N were given and the last, the callback that JS hands
// events to, is a function.
template <size_t N>
bool OpenArgs(napi_env env, napi_callback_info info, napi_value (&argv)[N]) {
  size_t argc = N;
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  napi_valuetype type = napi_undefined;
  return argc >= N && napi_typeof(env, argv[N - 1], &type) == napi_ok && type == napi_function;
}

// The loop's callback for an owner T (a transport's state): its ready() runs while it is open.
template <typename T>
void Ready(uv_poll_t* handle, int status, int) {
  T* owner = static_cast<T*>(handle->data);
  if (status < 0 || owner->closed) return;
  owner->ready();
}

// A descriptor watched on the loop for readability, and the JS function its owner hands what it
// read to: the part both transports share.
struct Watch {
  napi_env env = nullptr;
  napi_ref fn = nullptr;
  napi_async_context async = nullptr;
  uv_poll_t* poll = nullptr;

  // Starts watching `fd` for `owner` (Ready<T>); false (and nothing held) when libuv refuses.
  template <typename T>
  bool start(napi_env e, int fd, napi_value callback, const char* name, T* owner) {
    uv_loop_t* loop;
    napi_get_uv_event_loop(e, &loop);
    poll = new uv_poll_t;
    poll->data = owner;
    bool inited = uv_poll_init(loop, poll, fd) == 0;
    if (!inited || uv_poll_start(poll, UV_READABLE, Ready<T>) != 0) {
      if (inited) uv_close(reinterpret_cast<uv_handle_t*>(poll), nullptr);  // left allocated, as in stop()
      else delete poll;
      poll = nullptr;
      return false;
    }
    env = e;
    napi_create_reference(e, callback, 1, &fn);
    napi_value n;
    napi_create_string_utf8(e, name, NAPI_AUTO_LENGTH, &n);
    napi_async_init(e, nullptr, n, &async);
    return true;
  }

  void stop() {
    uv_poll_stop(poll);
    // No close callback, and the few bytes of the handle are never freed: a worker thread's teardown
    // unloads this addon before libuv would run a callback of its code (which then crashed).
    uv_close(reinterpret_cast<uv_handle_t*>(poll), nullptr);
    poll = nullptr;
    napi_delete_reference(env, fn);
    napi_async_destroy(env, async);
  }

  // Calls fn(block, count) with `block` (malloc'd) handed to JS as an ArrayBuffer it frees. From the
  // event loop as a callback, so nextTicks and microtasks run after it; from inside a JS call
  // (fromLoop false) as a plain call, an exception going back to that caller.
  void deliver(char* block, size_t size, uint32_t count, bool fromLoop) {
    napi_handle_scope scope;
    napi_open_handle_scope(env, &scope);
    napi_value ab, n, f, recv;
    if (napi_create_external_arraybuffer(env, block, size, [](napi_env, void* p, void*) { free(p); }, nullptr, &ab) != napi_ok) {
      free(block);
    } else {
      napi_create_uint32(env, count, &n);
      napi_get_reference_value(env, fn, &f);
      napi_get_global(env, &recv);
      napi_value argv[2] = {ab, n};
      napi_status st = fromLoop ? napi_make_callback(env, async, recv, f, 2, argv, nullptr) : napi_call_function(env, recv, f, 2, argv, nullptr);
      bool thrown = false;
      if (fromLoop && st != napi_ok && napi_is_exception_pending(env, &thrown) == napi_ok && thrown) {
        napi_value err;
        napi_get_and_clear_last_exception(env, &err);
        napi_fatal_exception(env, err);
      }
    }
    napi_close_handle_scope(env, scope);
  }
};

// The JS handle of an owner T, which owns it. The owner's callback holds the transport, which holds
// the handle, so only the environment's teardown collects one left open: then this shuts it down.
template <typename T>
napi_value Handle(napi_env env, T* owner) {
  napi_value handle;
  napi_create_external(env, owner, [](napi_env, void* p, void*) {
    T* t = static_cast<T*>(p);
    t->shutdown();
    delete t;
  }, nullptr, &handle);
  return handle;
}

// close(handle): the owner's shutdown(); nothing reaches JS after it returns.
template <typename T>
napi_value Close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  T* owner = Args<T>(env, info, argv);
  if (owner) owner->shutdown();
  return nullptr;
}

struct Method {
  const char* name;
  napi_callback fn;
};

// An object of the given functions: what each part exports.
template <size_t N>
napi_value Methods(napi_env env, const Method (&methods)[N]) {
  napi_value obj;
  napi_create_object(env, &obj);
  for (const Method& m : methods) {
    napi_value fn;
    napi_create_function(env, m.name, NAPI_AUTO_LENGTH, m.fn, nullptr, &fn);
    napi_set_named_property(env, obj, m.name, fn);
  }
  return obj;
}

napi_value InitUdp(napi_env env);
napi_value InitWs(napi_env env);

}  // namespace wac
