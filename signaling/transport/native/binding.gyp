{
  "targets": [
    {
      "target_name": "wac_io",
      "sources": ["addon.cc", "udp.cc", "ws.cc"],
      "cflags_cc": ["-O2", "-std=c++17", "-Wall"],
      "conditions": [["OS!='linux'", {"type": "none"}]]
    }
  ]
}
