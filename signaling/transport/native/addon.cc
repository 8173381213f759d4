// The native transports (Linux): `udp` for SIP over UDP, `ws` for SIP over plain WebSocket.
#include "addon.h"

namespace {

napi_value Init(napi_env env, napi_value exports) {
  napi_value udp = wac::InitUdp(env), ws = wac::InitWs(env);
  napi_set_named_property(env, exports, "udp", udp);
  napi_set_named_property(env, exports, "ws", ws);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
