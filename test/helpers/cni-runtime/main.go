// A minimal CNI runtime on libcni (like cnitool): the tests run ADD, CHECK and DEL of a network
// configuration list through the library container runtimes use, so libcni itself builds the request
// (runtimeConfig from capabilities, prevResult from its cache) and parses and validates each result.
//
//	cni-runtime add|check|del CONFFILE CONTAINERID NETNS IFNAME
//
// CNI_PATH: where plugins are looked up; CNI_CACHE_DIR: libcni's result cache; CNI_CAP_ARGS: capability
// arguments as JSON (e.g. {"portMappings":[...]}); CNI_RUNTIME_ARGS: "K=V;K=V" passed as CNI_ARGS.
// The result of add is printed as JSON on stdout; errors go to stderr with exit status 1.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/containernetworking/cni/libcni"
)

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 6 {
		fail(fmt.Errorf("usage: %s add|check|del CONFFILE CONTAINERID NETNS IFNAME", filepath.Base(os.Args[0])))
	}
	cmd, file, id, netns, ifname := os.Args[1], os.Args[2], os.Args[3], os.Args[4], os.Args[5]
	data, err := os.ReadFile(file)
	if err != nil {
		fail(err)
	}
	// A conflist, or a single plugin configuration turned into one (as runtimes do for .conf files).
	var list *libcni.NetworkConfigList
	if strings.HasSuffix(file, ".conflist") {
		list, err = libcni.ConfListFromBytes(data)
	} else {
		var conf *libcni.NetworkConfig
		if conf, err = libcni.ConfFromBytes(data); err == nil {
			list, err = libcni.ConfListFromConf(conf)
		}
	}
	if err != nil {
		fail(err)
	}
	rt := &libcni.RuntimeConf{ContainerID: id, NetNS: netns, IfName: ifname}
	if caps := os.Getenv("CNI_CAP_ARGS"); caps != "" {
		if err := json.Unmarshal([]byte(caps), &rt.CapabilityArgs); err != nil {
			fail(fmt.Errorf("CNI_CAP_ARGS: %w", err))
		}
	}
	if args := os.Getenv("CNI_RUNTIME_ARGS"); args != "" {
		for _, kv := range strings.Split(args, ";") {
			if k, v, ok := strings.Cut(kv, "="); ok {
				rt.Args = append(rt.Args, [2]string{k, v})
			}
		}
	}
	cni := libcni.NewCNIConfigWithCacheDir(filepath.SplitList(os.Getenv("CNI_PATH")), os.Getenv("CNI_CACHE_DIR"), nil)
	ctx := context.Background()
	switch cmd {
	case "add":
		res, err := cni.AddNetworkList(ctx, list, rt)
		if err != nil {
			fail(err)
		}
		// Converted to the configuration's version: libcni parses the plugin's output into its own types.
		if err := res.Print(); err != nil {
			fail(err)
		}
	case "check":
		err = cni.CheckNetworkList(ctx, list, rt)
	case "del":
		err = cni.DelNetworkList(ctx, list, rt)
	default:
		err = fmt.Errorf("unknown command %q", cmd)
	}
	if err != nil {
		fail(err)
	}
}
