{
  "targets": [
    {
      "target_name": "wac_udp",
      "sources": ["udp.cc"],
      "cflags_cc": ["-O2", "-std=c++17", "-Wall"],
      "conditions": [["OS!='linux'", {"type": "none"}]]
    }
  ]
}
