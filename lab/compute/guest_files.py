"""The guest's own files: loader, boot script, init table and run-command agent.

Kept as Python strings (not data files) so the image key can hash them and an
installed copy of the package always carries them. Everything runs under
busybox `sh`: the guest has no Python.

Boot path: the kernel runs the loader (/init in the initramfs), which loads the
virtio drivers (the Debian cloud kernel has them as modules), mounts the OS disk
(/dev/vda, ext4, a per-VM qcow2 overlay of the cached base image) and switches
to it; busybox init there runs rc.boot (addressing from the kernel command line)
and keeps the agent running.
"""

from __future__ import annotations

AGENT_PORT_NAME = "org.stacklab.agent.0"

LOADER_INIT = r"""#!/bin/sh
# stacklab loader: drivers from the initramfs, then the OS disk becomes root.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "stacklab-loader: kernel $(uname -r), loading virtio drivers"
while read -r mod; do
  insmod "/modules/$mod.ko" || echo "stacklab-loader: insmod $mod failed"
done < /modules/order
i=0
while [ ! -b /dev/vda ] && [ "$i" -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
if ! mount -t ext4 /dev/vda /os; then
  echo "stacklab-loader: FAILED to mount the OS disk /dev/vda"
  while :; do sleep 3600; done
fi
umount /proc /sys
mount --move /dev /os/dev
echo "stacklab-loader: OS disk mounted, switching root"
exec switch_root /os /sbin/init
"""

RC_BOOT = r"""#!/bin/sh
# stacklab guest boot: mounts, address from the kernel command line (the host
# decides it, as Azure's host-side DHCP does), VIPs on lo for DSR backends.
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mkdir -p /dev/shm /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /dev/shm
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    stacklab.name=*) NAME=${arg#*=} ;;
    stacklab.ip=*) IP=${arg#*=} ;;
    stacklab.gw=*) GW=${arg#*=} ;;
    stacklab.mtu=*) MTU=${arg#*=} ;;
    stacklab.vips=*) VIPS=${arg#*=} ;;
  esac
done
hostname "${NAME:-guest}"
ip link set lo up
# DSR: answer for VIPs held on lo, but never ARP for them on eth0
sysctl -q -w net.ipv4.conf.all.arp_ignore=1
sysctl -q -w net.ipv4.conf.all.arp_announce=2
for vip in $(echo "$VIPS" | tr , ' '); do ip addr add "$vip/32" dev lo; done
if [ -n "$IP" ]; then
  ip link set eth0 mtu "${MTU:-1500}" up
  ip addr add "$IP" dev eth0
  [ -n "$GW" ] && ip route add default via "$GW"
fi
echo "stacklab: guest ready: name=$NAME eth0=$IP gw=$GW mtu=$MTU vips=${VIPS:-none}"
"""

INITTAB = """::sysinit:/etc/rc.boot
::respawn:/sbin/stacklab-agent
::ctrlaltdel:/bin/poweroff -f
"""

AGENT = r"""#!/bin/sh
# stacklab run-command agent (the CustomScript analog) on a virtio-serial port.
# Request lines:  PING <id>          -> PONG <id>
#                 RUN <id> <timeout_s> <base64 script>
#                   -> BEGIN <id>, base64 of stdout+stderr, END <id> <exit code>
port=""
for p in /sys/class/virtio-ports/*; do
  [ "$(cat "$p/name" 2>/dev/null)" = "@PORT@" ] && port="/dev/${p##*/}"
done
if [ -z "$port" ]; then echo "stacklab-agent: no virtio-serial port @PORT@"; sleep 5; exit 1; fi
echo "stacklab-agent: listening on $port"
cd /tmp
while :; do
  # read returns EOF at once while no host client is connected: poll gently.
  # `command` keeps a failed open (port busy) from ending the shell.
  command exec 3<>"$port" || { sleep 1; continue; }
  while read -r verb id arg payload <&3; do
    case "$verb" in
      PING) echo "PONG $id" >&3 ;;
      RUN)
        echo "$payload" | base64 -d > /run/agent.cmd
        # fd 3 closed for the command: a lingering child (timeout's watcher, a
        # daemon the script starts) must not keep the port open (EBUSY)
        timeout "$arg" sh /run/agent.cmd > /run/agent.out 2>&1 < /dev/null 3<&-
        rc=$?
        { echo "BEGIN $id"; base64 < /run/agent.out; echo "END $id $rc"; } >&3
        rm -f /run/agent.cmd /run/agent.out ;;
    esac
  done
  exec 3<&-
  sleep 0.2
done
""".replace("@PORT@", AGENT_PORT_NAME)

# applets the loader needs (the OS disk gets every applet)
LOADER_APPLETS = ("sh", "mount", "umount", "insmod", "sleep", "switch_root", "uname", "echo")

# drivers the guest needs; their dependencies are resolved from the modules
VIRTIO_MODULES = ("virtio_pci", "virtio_blk", "virtio_net", "virtio_console")


def sources() -> dict[str, str]:
    """Every guest file by path, for building and for the image key."""
    return {
        "init": LOADER_INIT,
        "etc/rc.boot": RC_BOOT,
        "etc/inittab": INITTAB,
        "sbin/stacklab-agent": AGENT,
        "modules-wanted": " ".join(VIRTIO_MODULES),
    }
