#!/bin/sh
# PID 1 of the kvmnet test guest. Everything the host harness reads is a `KVMNET-RESULT ...` line on the
# serial console; the harness (test/helpers/qemu.ts) parses nothing else, so kernel chatter may interleave.
# Checks come from the kernel command line (kvmnet.ping=IP,IP kvmnet.tcp=HOST/PORT,...) so that one cached
# image serves every test.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null

say() { echo "KVMNET-RESULT $*"; }
# Always power off, also on an unexpected error, so the harness never waits for its timeout to learn it.
finish() { say done; sync; poweroff -f; sleep 5; echo o > /proc/sysrq-trigger; }

say boot uptime=$(cut -d' ' -f1 /proc/uptime)

# Modules are listed in load order (dependencies first) by the image builder; insmod does no dependency work.
while read -r ko; do
  [ -n "$ko" ] || continue
  insmod "/lib/modules/$ko" || say error "insmod $ko failed"
done < /etc/kvmnet-modules

ip link set lo up
# virtio-net probes asynchronously after insmod: wait for eth0 rather than racing it.
n=0
while [ ! -e /sys/class/net/eth0 ] && [ $n -lt 100 ]; do usleep 100000; n=$((n + 1)); done
if [ ! -e /sys/class/net/eth0 ]; then say error "no eth0"; finish; fi
ip link set eth0 up
say mac=$(cat /sys/class/net/eth0/address)

arg() { echo " $(cat /proc/cmdline)" | sed -n "s/.*[[:space:]]$1=\\([^[:space:]]*\\).*/\\1/p" | tr ',' ' '; }
ping_list=$(arg kvmnet.ping)
tcp_list=$(arg kvmnet.tcp)
dhcp_tries=$(arg kvmnet.dhcptries); [ -n "$dhcp_tries" ] || dhcp_tries=15
static_addr=$(arg kvmnet.addr)
listen_port=$(arg kvmnet.listen)
# Peers boot beside this guest: checks retry until this many seconds have passed, and the guest stays up
# that long after its own checks so theirs can reach it.
peer_wait=$(arg kvmnet.peerwait); [ -n "$peer_wait" ] || peer_wait=0

if [ -n "$static_addr" ]; then
  ip addr add "$static_addr" dev eth0
  say static "$static_addr"
# -n: give up (exit 1) without a lease instead of backgrounding; -q: exit once leased, leaving it configured.
elif ! udhcpc -i eth0 -s /etc/udhcpc.script -n -q -t "$dhcp_tries" -T 1 -A 1 >/dev/null 2>&1; then
  say error "no dhcp lease"
fi
# IPv6 by SLAAC: the kernel configures it from the router advertisements by itself; wait until a global
# address is there and no longer tentative.
slaac_wait=$(arg kvmnet.slaac)
if [ -n "$slaac_wait" ]; then
  n=0
  while [ $n -lt $((slaac_wait * 10)) ]; do
    a6=$(ip -6 addr show dev eth0 scope global | grep inet6 | grep -v tentative | sed -n 's/.*inet6 \([0-9a-f:]*\/[0-9]*\).*/\1/p' | head -n1)
    [ -n "$a6" ] && break
    usleep 100000; n=$((n + 1))
  done
  if [ -n "$a6" ]; then say addr6=$a6; else say error "no slaac address"; fi
fi
# A TCP server for peers: answers every connection (and keeps listening), and notes that a peer came.
if [ -n "$listen_port" ]; then
  (while true; do nc -l -p "$listen_port" -e /bin/true >/dev/null 2>&1 && touch /tmp/peer-seen; done) &
fi

# Traffic for bandwidth tests, one TCP connection at a time, as long as the guest runs: a sink reads and
# discards what the host sends (a download), a source sends zeros to whoever connects (an upload).
sink_port=$(arg kvmnet.sink)
source_port=$(arg kvmnet.source)
# Both run as nc's -e program (the connection is its stdin and stdout): nc's own stdin, the console, ends.
if [ -n "$sink_port" ]; then
  printf '#!/bin/sh\nexec cat >/dev/null\n' > /tmp/drain && chmod +x /tmp/drain
  (while true; do nc -l -p "$sink_port" -e /tmp/drain </dev/null >/dev/null 2>&1; done) &
fi
if [ -n "$source_port" ]; then
  printf '#!/bin/sh\nexec cat /dev/zero\n' > /tmp/zeros && chmod +x /tmp/zeros
  (while true; do nc -l -p "$source_port" -e /tmp/zeros </dev/null >/dev/null 2>&1; done) &
fi

deadline=$(( $(cut -d. -f1 /proc/uptime) + peer_wait ))
# Tries until it succeeds or the peer deadline passes (at least twice: the first packet may be spent on
# ARP/neighbour resolution along the path).
retry() {
  "$@" && return 0
  "$@" && return 0
  while [ "$(cut -d. -f1 /proc/uptime)" -lt "$deadline" ]; do
    "$@" && return 0
    sleep 1
  done
  return 1
}

for ip in $ping_list; do
  case "$ip" in *:*) fam=-6 ;; *) fam=-4 ;; esac
  if retry ping $fam -c 1 -W 2 "$ip" >/dev/null 2>&1; then
    say ping "$ip" ok
  else
    say ping "$ip" fail
  fi
done

for hp in $tcp_list; do
  host=${hp%/*}
  port=${hp##*/}
  # -e true: succeed the moment the connection is established, whatever the server then does. busybox nc
  # wants -e after HOST PORT.
  if retry nc -w 3 "$host" "$port" -e /bin/true </dev/null >/dev/null 2>&1; then
    say tcp "$hp" ok
  else
    say tcp "$hp" fail
  fi
done

# Stay reachable for the peers: until one of them has connected (when listening), at most until the deadline.
while [ "$(cut -d. -f1 /proc/uptime)" -lt "$deadline" ]; do
  if [ -n "$listen_port" ] && [ -e /tmp/peer-seen ]; then break; fi
  sleep 1
done
finish
