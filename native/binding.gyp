{
  "targets": [
    {
      "target_name": "kvmnet",
      "sources": [
        "src/addon.cc",
        "src/args.cc",
        "src/constants.cc",
        "src/errors.cc",
        "src/scoped_netns.cc",
        "src/netns_create.cc",
        "src/netns_delete.cc",
        "src/with_netns.cc",
        "src/netlink_fd.cc",
        "src/sockopt.cc",
        "src/netlink_dump_size.cc",
        "src/netlink_send.cc",
        "src/if_up.cc",
        "src/tap.cc",
        "src/tap_settle.cc",
        "src/fd.cc",
        "src/lock.cc",
        "src/libnftables.cc",
        "src/nft_worker.cc",
        "src/nft_run.cc",
        "src/netlink_listener.cc",
        "src/netlink_socket.cc",
        "src/malloc_trim.cc",
        "src/sha256.cc",
        "src/exit_now.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra"],
      "libraries": ["-ldl", "-lpthread"]
    }
  ]
}
