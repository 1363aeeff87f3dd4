"""A real, minimal Linux test guest, built at test time from the host's Debian packages.

The boot-sector guest proves QEMU runs; networking, the metadata service and config drives need a
guest that speaks DHCP, TCP and mounts filesystems, as a cloud image does. This module packs the
host's ``linux-image-amd64`` kernel modules and ``busybox-static`` into a gzip-compressed newc cpio
initramfs whose ``/init`` is the little cloud-init below: nothing is downloaded, nothing binary is
committed, and the kernel is ``/boot/vmlinuz-<version>`` as installed.

Building (``build_guest``) is separate from booting (``boot_argv``): the product's QEMU driver will
boot the same kernel and initramfs as Glance AKI/ARI images, with its own command line. The same
guest also comes as one bootable raw disk (an MBR, a FAT partition, SYSLINUX, the kernel, the
initramfs and the command line): ``tests.support.guestdisk.build_disk``.

The guest's behaviour is chosen on the kernel command line (``guest_cmdline`` writes it):

``stratus.marker=WORD``   prefix of every line the guest prints on the console (``STRATUS-GUEST``)
``stratus.hostname=NAME`` hostname, also sent in the DHCP request (``stratus-guest``)
``stratus.token=WORD``    echoed on the console and in the HTTP page: proves which guest answered
``stratus.dhcp=0``        do not configure eth0 (console-only guests)
``stratus.http=PORT``     port of the HTTP server serving /www (80; 0: none)
``stratus.echo=PORT``     a TCP echo service (``nc -ll -e cat``) on PORT (none)
``stratus.metadata=1``    fetch the OpenStack metadata once networked and print it between markers
``stratus.peers=A,B``     once ready, fetch http://A/ (then B) until it answers or ``stratus.peerwait``
                          seconds (default 20) pass, and print ``peer A ok <page>`` or ``peer A unreachable``
``stratus.configdrive=1`` mount the disk labelled config-2 (ISO 9660) and print its
                          openstack/latest/meta_data.json between ``configdrive-begin``/``-end``
``stratus.cloudinit=1``   act as a minimal cloud image once networked: read the config drive (or else
                          the metadata service at 169.254.169.254), set the hostname from
                          meta_data.json, install its ``public_keys`` into /root/.ssh/authorized_keys,
                          run ``user_data`` if it starts with ``#!``, then start an SSH server (dropbear:
                          the guest must be built with ``build_guest(..., ssh=True)``)
``stratus.vtshell=1``     once ready, an interactive shell on the screen (tty1, the VGA console a VNC
                          client sees) whose ``typed WORDS`` command prints ``typed WORDS`` on the serial
                          console: proof that keys typed at the screen reached the guest
``stratus.poweroff=1``    power off once ready (QEMU then exits)
``stratus.loglevel=N``    kernel console log level after boot (1: only emergencies interleave)

Console lines, each starting with the marker: ``boot``, ``ip=A/N gw=G mac=M dns=D`` (or
``error dhcp``), ``http port=P``, ``ready uptime=S``, ``metadata-begin`` / ``metadata-end`` (or
``metadata-unavailable``), ``error insmod NAME``; with ``stratus.cloudinit=1``: ``cloudinit
source=configdrive|metadata|none``, ``hostname=NAME``, ``keys=N``, ``userdata exit=S`` (or ``userdata
none``), then ``ssh ready`` (or ``error ssh ...``).

The SSH server is Debian's ``dropbear-bin``, not installed on the host: ``apt-get download`` fetches it
and the packages of the libraries it links into the cache directory once (``ssh_files``), and the
dynamically linked binaries go into the initramfs with those libraries and the dynamic loader.
"""

from __future__ import annotations

import gzip
import hashlib
import lzma
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

BUSYBOX = Path("/bin/busybox")
BOOT = Path("/boot")
MODULES_ROOT = Path("/lib/modules")

BASE_CMDLINE = "console=ttyS0 quiet panic=-1"
DEFAULT_MARKER = "STRATUS-GUEST"
DEFAULT_MAC = "52:54:00:12:34:56"

# What a cloud image needs: the virtio NIC, virtio disks, a config drive (an ISO 9660 or VFAT disk,
# as a CD on q35's AHCI controller, a virtio-scsi CD or a virtio disk) and an entropy source for an
# SSH server later. Built-in ones are skipped; modules.dep brings the dependencies. (Soft dependencies
# are not followed: sd_mod, for SCSI disks, would want crct10dif by its crypto alias.)
DEFAULT_MODULES = (
    "virtio_pci",
    "virtio_net",
    "virtio_blk",
    "virtio_scsi",
    "virtio_rng",
    "ahci",
    "sr_mod",
    "isofs",
    "vfat",
    "nls_cp437",
    "nls_ascii",
)

_MODULE_SUFFIXES = (".ko", ".ko.xz", ".ko.gz")

# The SSH server and the packages of everything it links (dpkg-deb -I dropbear-bin: Depends, and
# theirs); ssh_files fails naming the library if one is not in these.
DROPBEAR_PACKAGES = (
    "dropbear-bin",
    "libc6",
    "libcrypt1",
    "libtomcrypt1",
    "libtommath1",
    "libgmp10",
    "zlib1g",
)
DROPBEAR_BINARIES = ("usr/sbin/dropbear", "usr/bin/dropbearkey")
LOADER = "lib64/ld-linux-x86-64.so.2"
LIBRARY_DIRS = ("lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu")

# root with a home and a shell, and no password: key-only logins.
ACCOUNT_FILES = {
    "etc/passwd": "root:x:0:0:root:/root:/bin/sh\n",
    "etc/group": "root:x:0:\n",
    "etc/shadow": "root:*:19000:0:99999:7:::\n",
    "etc/shells": "/bin/sh\n",
    "etc/nsswitch.conf": "passwd: files\ngroup: files\nshadow: files\n",
}

INIT = r"""#!/bin/sh
# Stratus test guest: a minimal cloud image. Options: stratus.* on the kernel command line.
export PATH=/bin
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /run /tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1

MARKER=STRATUS-GUEST HOSTNAME=stratus-guest TOKEN= DHCP=1 HTTP=80 ECHO= METADATA=0 POWEROFF=0 LOGLEVEL=1
PEERS= PEERWAIT=20 CONFIGDRIVE=0 CLOUDINIT=0 VTSHELL=0
for arg in $(cat /proc/cmdline); do
    case "$arg" in
        stratus.marker=*) MARKER="${arg#*=}" ;;
        stratus.hostname=*) HOSTNAME="${arg#*=}" ;;
        stratus.token=*) TOKEN="${arg#*=}" ;;
        stratus.dhcp=*) DHCP="${arg#*=}" ;;
        stratus.http=*) HTTP="${arg#*=}" ;;
        stratus.echo=*) ECHO="${arg#*=}" ;;
        stratus.metadata=*) METADATA="${arg#*=}" ;;
        stratus.poweroff=*) POWEROFF="${arg#*=}" ;;
        stratus.loglevel=*) LOGLEVEL="${arg#*=}" ;;
        stratus.peers=*) PEERS="${arg#*=}" ;;
        stratus.configdrive=*) CONFIGDRIVE="${arg#*=}" ;;
        stratus.peerwait=*) PEERWAIT="${arg#*=}" ;;
        stratus.cloudinit=*) CLOUDINIT="${arg#*=}" ;;
        stratus.vtshell=*) VTSHELL="${arg#*=}" ;;
    esac
done
say() { echo "$MARKER $*"; }

# Kernel messages would interleave with (and split) the lines the tests wait for.
echo "$LOGLEVEL" > /proc/sys/kernel/printk
hostname "$HOSTNAME"
say "boot token=$TOKEN"

while read -r module; do
    insmod "$module" || say "error insmod $module"
done < /lib/modules/load-order

# Mounts the config drive on /mnt/config (once) and sets $found to its device; fails without one.
found=
find_config_drive() {
    [ -n "$found" ] && return 0
    # cloud-init finds the drive by its label; any ISO 9660 disk holding the documents will do here.
    mkdir -p /mnt/config
    for dev in /dev/vd? /dev/sr?; do
        [ -b "$dev" ] || continue
        if mount -t iso9660 -o ro "$dev" /mnt/config 2>/dev/null; then
            if [ -f /mnt/config/openstack/latest/meta_data.json ]; then found=$dev; return 0; fi
            umount /mnt/config
        fi
    done
    return 1
}

if [ "$CONFIGDRIVE" = 1 ]; then
    if find_config_drive; then
        say "configdrive-begin $found"
        cat /mnt/config/openstack/latest/meta_data.json
        echo
        say configdrive-end
    else
        say configdrive-missing
    fi
fi

ip link set lo up
IP=none
if [ "$DHCP" = 1 ]; then
    tries=0
    while [ ! -e /sys/class/net/eth0 ] && [ $tries -lt 50 ]; do sleep 0.1; tries=$((tries + 1)); done
    ip link set eth0 up
    # udhcpc stays in the background once bound, to renew the lease.
    if udhcpc -i eth0 -s /etc/udhcpc.script -x "hostname:$HOSTNAME" -t 5 -T 2 -n >/tmp/udhcpc.log 2>&1; then
        . /run/lease
        IP="$ip/$prefix"
        say "ip=$IP gw=$router mac=$(cat /sys/class/net/eth0/address) dns=$dns"
    else
        cat /tmp/udhcpc.log
        say "error dhcp"
    fi
fi

mkdir -p /www
echo "$MARKER hostname=$HOSTNAME token=$TOKEN ip=$IP" > /www/index.html
if [ "$HTTP" != 0 ]; then
    httpd -p "$HTTP" -h /www && say "http port=$HTTP"
fi
if [ -n "$ECHO" ]; then
    nc -ll -p "$ECHO" -e cat &
    say "echo port=$ECHO"
fi
say "ready uptime=$(cut -d' ' -f1 /proc/uptime)"

if [ "$METADATA" = 1 ]; then
    # timeout, not wget -T: busybox 1.35's wget crashes when -T meets a failed connect.
    if timeout 10 wget -q -O /tmp/meta_data.json http://169.254.169.254/openstack/latest/meta_data.json; then
        say metadata-begin
        cat /tmp/meta_data.json
        echo
        say metadata-end
    else
        say metadata-unavailable
    fi
fi

if [ "$CLOUDINIT" = 1 ]; then
    ci=/tmp/cloudinit
    mkdir -p $ci
    if find_config_drive; then
        source=configdrive
        cp /mnt/config/openstack/latest/meta_data.json $ci/meta_data.json
        if [ -f /mnt/config/openstack/latest/user_data ]; then
            cp /mnt/config/openstack/latest/user_data $ci/user_data
        fi
    elif timeout 10 wget -q -O $ci/meta_data.json http://169.254.169.254/openstack/latest/meta_data.json; then
        source=metadata
        timeout 10 wget -q -O $ci/user_data http://169.254.169.254/openstack/latest/user_data \
            || rm -f $ci/user_data
    else
        source=none
        : > $ci/meta_data.json
    fi
    say "cloudinit source=$source"
    # No JSON parser in busybox: meta_data.json is one line of json.dumps output.
    name=$(sed -n 's/.*"hostname": *"\([^"]*\)".*/\1/p' $ci/meta_data.json)
    if [ -n "$name" ]; then
        hostname "$name"
        HOSTNAME=$name
    fi
    say "hostname=$(hostname)"
    mkdir -p /root/.ssh
    chmod 700 /root /root/.ssh
    # The values of public_keys (and of keys[].data: the same lines, hence sort -u).
    grep -oE '"(ssh-[a-z0-9-]+|ecdsa-sha2-[a-z0-9-]+|sk-[a-z0-9@.-]+) [^"]*"' $ci/meta_data.json \
        | sed 's/^"//; s/"$//; s/\\n$//' | sort -u > /root/.ssh/authorized_keys
    chmod 600 /root/.ssh/authorized_keys
    say "keys=$(wc -l < /root/.ssh/authorized_keys)"
    if [ -s $ci/user_data ] && [ "$(head -c 2 $ci/user_data)" = "#!" ]; then
        chmod 700 $ci/user_data
        (cd /root && HOME=/root $ci/user_data) > $ci/user_data.log 2>&1
        say "userdata exit=$?"
    else
        say "userdata none"
    fi
    if [ -x /usr/sbin/dropbear ]; then
        mkdir -p /etc/dropbear /dev/pts
        mount -t devpts devpts /dev/pts
        key=/etc/dropbear/dropbear_ed25519_host_key
        # -s: no password logins; -E: its log on the console. It listens once forked: wait for it.
        if /usr/bin/dropbearkey -t ed25519 -f $key > $ci/hostkey.log 2>&1 \
            && /usr/sbin/dropbear -s -E -r $key -p 22 -P /run/dropbear.pid; then
            tries=0
            while ! netstat -ltn | grep -q ':22 ' && [ $tries -lt 100 ]; do
                sleep 0.1
                tries=$((tries + 1))
            done
            if netstat -ltn | grep -q ':22 '; then say "ssh ready"; else say "error ssh not listening"; fi
        else
            cat $ci/hostkey.log
            say "error ssh start"
        fi
    else
        say "error ssh missing: build the guest with ssh=True"
    fi
fi

for peer in $(echo "$PEERS" | tr ',' ' '); do
    deadline=$(( $(cut -d. -f1 /proc/uptime) + PEERWAIT ))
    while :; do
        if page=$(timeout 3 wget -q -O - "http://$peer/"); then
            say "peer $peer ok $page"
            break
        fi
        if [ "$(cut -d. -f1 /proc/uptime)" -ge "$deadline" ]; then
            say "peer $peer unreachable"
            break
        fi
        sleep 1
    done
done

if [ "$VTSHELL" = 1 ]; then
    if [ -c /dev/tty1 ]; then
        printf '#!/bin/sh\necho "%s typed $*" > /dev/ttyS0\n' "$MARKER" > /bin/typed
        chmod 755 /bin/typed
        printf '\n%s screen shell (typed WORDS: WORDS on the serial console)\n' "$MARKER" > /dev/tty1
        # -c: tty1 becomes the shell's controlling terminal (job control, ^C).
        setsid -c sh -i </dev/tty1 >/dev/tty1 2>&1 &
        say "vtshell tty1"
    else
        say "error vtshell no tty1"
    fi
fi

if [ "$POWEROFF" = 1 ]; then
    say poweroff
    sync
    poweroff -f
fi
while :; do sleep 3600; done
"""

UDHCPC_SCRIPT = r"""#!/bin/sh
# udhcpc calls this with the lease in the environment (ip, mask = prefix length, router, dns).
case "$1" in
    deconfig)
        ip -4 addr flush dev "$interface"
        ;;
    bound|renew)
        prefix="${mask:-24}"
        gw="${router%% *}"
        ip -4 addr flush dev "$interface"
        ip -4 addr add "$ip/$prefix" dev "$interface"
        [ -n "$gw" ] && ip -4 route replace default via "$gw" dev "$interface"
        : > /etc/resolv.conf
        for server in $dns; do echo "nameserver $server" >> /etc/resolv.conf; done
        printf 'ip=%s\nprefix=%s\nrouter=%s\ndns="%s"\n' "$ip" "$prefix" "$gw" "$dns" > /run/lease
        ;;
esac
exit 0
"""


@dataclass(frozen=True)
class LinuxGuest:
    """A built guest: the host's kernel and the initramfs made for it."""

    kernel: Path
    initrd: Path
    version: str
    modules: tuple[str, ...]  # in load order, dependencies included
    built: bool  # False when the cache already had it


def kernel_versions() -> list[str]:
    """Installed kernels that have both an image in /boot and their modules, newest last."""

    def key(version: str) -> list[int | str]:
        return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", version)]

    versions = [
        path.name.removeprefix("vmlinuz-")
        for path in BOOT.glob("vmlinuz-*")
        if (MODULES_ROOT / path.name.removeprefix("vmlinuz-") / "modules.dep").exists()
    ]
    return sorted(versions, key=key)


def _module_name(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    for suffix in _MODULE_SUFFIXES:
        name = name.removesuffix(suffix)
    return name.replace("-", "_")


def resolve_modules(version: str, wanted: tuple[str, ...]) -> list[str]:
    """Paths (relative to the modules dir) of ``wanted`` and their dependencies, each after what it
    needs: the order insmod must load them in, as modprobe would. Built-in ones need no file."""
    directory = MODULES_ROOT / version
    deps: dict[str, tuple[str, list[str]]] = {}
    for line in (directory / "modules.dep").read_text().splitlines():
        path, _, needs = line.partition(":")
        deps[_module_name(path)] = (path, needs.split())
    builtin = {_module_name(line) for line in (directory / "modules.builtin").read_text().split()}
    order: list[str] = []

    def visit(name: str) -> None:
        if name in builtin or deps[name][0] in order:
            return
        path, needs = deps[name]
        for need in needs:
            visit(_module_name(need))
        order.append(path)

    for name in wanted:
        name = name.replace("-", "_")
        if name not in deps and name not in builtin:
            raise LookupError(f"kernel {version} has no module {name!r} (is linux-image-amd64 installed?)")
        visit(name)
    return order


def _module_bytes(path: Path) -> bytes:
    """Busybox's insmod loads plain ELF objects only: decompress what Debian compressed."""
    data = path.read_bytes()
    if path.name.endswith(".xz"):
        return lzma.decompress(data)
    if path.name.endswith(".gz"):
        return gzip.decompress(data)
    return data


class Cpio:
    """A newc ("070701") cpio archive, as the kernel unpacks an initramfs: ASCII hex headers, names
    and data padded to 4 bytes. Owned by root, dated 0, so the same inputs give the same bytes, and
    device nodes need no privilege to create (unlike packing a real directory)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._inode = 0

    @staticmethod
    def _pad(data: bytes) -> bytes:
        return data + b"\0" * (-len(data) % 4)

    def _entry(self, name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0)) -> None:
        self._inode += 1
        encoded = name.encode() + b"\0"
        fields = (self._inode, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(encoded), 0)
        header = b"070701" + b"".join(b"%08X" % value for value in fields)
        self._parts += [self._pad(header + encoded), self._pad(data)]

    def directory(self, name: str) -> None:
        self._entry(name, 0o040755)

    def file(self, name: str, data: bytes, mode: int = 0o644) -> None:
        self._entry(name, 0o100000 | mode, data)

    def symlink(self, name: str, target: str) -> None:
        self._entry(name, 0o120777, target.encode())

    def char_device(self, name: str, major: int, minor: int) -> None:
        self._entry(name, 0o020600, rdev=(major, minor))

    def finish(self) -> bytes:
        self._entry("TRAILER!!!", 0)
        return b"".join(self._parts)


def _static_busybox() -> bytes:
    """The guest has no libc: Debian's dynamically linked ``busybox`` package would not start."""
    if not BUSYBOX.exists():
        raise FileNotFoundError(f"{BUSYBOX} is missing: install busybox-static")
    data = BUSYBOX.read_bytes()
    if data[:5] != b"\x7fELF\x02":
        raise ValueError(f"{BUSYBOX} is not a 64-bit ELF executable")
    phoff = int.from_bytes(data[0x20:0x28], "little")
    size, count = int.from_bytes(data[0x36:0x38], "little"), int.from_bytes(data[0x38:0x3A], "little")
    pt_interp = 3
    for index in range(count):
        offset = phoff + index * size
        if int.from_bytes(data[offset : offset + 4], "little") == pt_interp:
            raise ValueError(f"{BUSYBOX} is dynamically linked: install busybox-static instead of busybox")
    return data


def download_debs(packages: tuple[str, ...], cache_dir: Path) -> list[Path]:
    """The ``.deb`` of each package (the candidate version of this host's apt sources), fetched with
    ``apt-get download`` into ``cache_dir`` unless already there. Nothing is installed."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    debs = []
    for package in packages:
        cached = sorted(cache_dir.glob(f"{package}_*.deb"))
        if not cached:
            with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".download-") as tmp:
                # As root, apt's _apt user could not write to the test's directory: do not switch.
                done = subprocess.run(
                    ["apt-get", "download", "-o", "APT::Sandbox::User=root", package],
                    cwd=tmp, capture_output=True, text=True,
                )  # fmt: skip
                fetched = sorted(Path(tmp).glob(f"{package}_*.deb"))
                if done.returncode != 0 or not fetched:
                    raise RuntimeError(
                        f"`apt-get download {package}` failed (exit {done.returncode}): the SSH test guest "
                        f"needs the Debian package {package} (are the apt sources reachable? run "
                        f"apt-get update)\n{done.stderr.strip()}"
                    )
                os.replace(fetched[0], cache_dir / fetched[0].name)  # atomic for parallel builders
            cached = sorted(cache_dir.glob(f"{package}_*.deb"))
        debs.append(cached[-1])
    return debs


def _elf_needed(data: bytes) -> list[str]:
    """The DT_NEEDED names (shared libraries) of a 64-bit little-endian ELF file."""

    def u(offset: int, size: int) -> int:
        return int.from_bytes(data[offset : offset + size], "little")

    phoff, size, count = u(0x20, 8), u(0x36, 2), u(0x38, 2)
    loads, dynamic = [], None
    for index in range(count):
        header = phoff + index * size
        kind, offset, vaddr, filesz = u(header, 4), u(header + 8, 8), u(header + 16, 8), u(header + 32, 8)
        if kind == 1:  # PT_LOAD
            loads.append((vaddr, offset, filesz))
        elif kind == 2:  # PT_DYNAMIC
            dynamic = (offset, filesz)
    if dynamic is None:
        return []
    entries = [(u(at, 8), u(at + 8, 8)) for at in range(dynamic[0], dynamic[0] + dynamic[1], 16)]
    strtab = next(value for tag, value in entries if tag == 5)  # DT_STRTAB: an address
    base = next(
        offset + strtab - vaddr for vaddr, offset, filesz in loads if vaddr <= strtab < vaddr + filesz
    )
    return [
        data[base + value : data.index(b"\0", base + value)].decode() for tag, value in entries if tag == 1
    ]


def _inside(root: Path, path: str) -> Path:
    """``path`` (relative to ``root``) with its symbolic links followed inside ``root``."""
    current = root / path
    for _ in range(20):
        if not current.is_symlink():
            return current
        target = os.readlink(current)
        current = root / target.lstrip("/") if target.startswith("/") else current.parent / target
    raise RuntimeError(f"{path}: too many symbolic links")


def ssh_files(cache_dir: Path) -> dict[str, bytes]:
    """The files of the SSH server in the guest, by path in the initramfs: dropbear and dropbearkey,
    the shared libraries they need (transitively) and the dynamic loader, from Debian's packages
    (``DROPBEAR_PACKAGES``, downloaded into ``cache_dir`` once)."""
    files: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(dir=cache_dir.parent if cache_dir.parent.exists() else None) as tmp:
        root = Path(tmp)
        for deb in download_debs(DROPBEAR_PACKAGES, cache_dir):
            subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True, capture_output=True)
        wanted = list(DROPBEAR_BINARIES)
        for binary in DROPBEAR_BINARIES:
            files[binary] = (root / binary).read_bytes()
        libraries: dict[str, bytes] = {}
        while wanted:
            for name in _elf_needed((root / wanted.pop()).read_bytes()):
                if name in libraries:
                    continue
                found = next(
                    (f"{d}/{name}" for d in LIBRARY_DIRS if _inside(root, f"{d}/{name}").exists()), None
                )
                if found is None:
                    raise FileNotFoundError(
                        f"dropbear needs {name}, which none of {DROPBEAR_PACKAGES} holds: add its package"
                    )
                libraries[name] = _inside(root, found).read_bytes()
                wanted.append(str(_inside(root, found).relative_to(root)))
        for name, data in sorted(libraries.items()):
            files[f"lib/x86_64-linux-gnu/{name}"] = data
        files[LOADER] = _inside(root, LOADER).read_bytes()
    return files


def initramfs(
    version: str, modules: list[str], busybox: bytes, extra: dict[str, bytes] | None = None
) -> bytes:
    """The uncompressed cpio archive of the guest; ``extra``: more executable files, by path."""
    archive = Cpio()
    for directory in ("bin", "dev", "etc", "proc", "sys", "run", "tmp", "www", "lib", "lib/modules", "root"):
        archive.directory(directory)
    # The kernel opens /dev/console for /init before anything is mounted.
    archive.char_device("dev/console", 5, 1)
    archive.file("bin/busybox", busybox, 0o755)
    archive.symlink("bin/sh", "busybox")
    archive.file("init", INIT.encode(), 0o755)
    archive.file("etc/udhcpc.script", UDHCPC_SCRIPT.encode(), 0o755)
    load_order = []
    for path in modules:
        target = f"lib/modules/{_module_name(path)}.ko"  # flat: insmod takes paths, not names
        load_order.append(f"/{target}")
        archive.file(target, _module_bytes(MODULES_ROOT / version / path))
    archive.file("lib/modules/load-order", "".join(f"{line}\n" for line in load_order).encode())
    for name, text in ACCOUNT_FILES.items():
        archive.file(name, text.encode(), 0o600 if name == "etc/shadow" else 0o644)
    made = {"bin", "etc", "lib", "root"}
    for name, data in sorted((extra or {}).items()):
        parts = name.split("/")
        for depth in range(1, len(parts)):
            directory = "/".join(parts[:depth])
            if directory not in made:
                archive.directory(directory)
                made.add(directory)
        archive.file(name, data, 0o755)
    return archive.finish()


def _fingerprint(version: str, modules: list[str], busybox: bytes, extra: dict[str, bytes]) -> str:
    """What the initramfs is made of: this builder (its /init included), busybox, the modules and the
    extra files. Hashing the files (a few MB) is cheap next to packing them again."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    digest.update(hashlib.sha256(busybox).digest())
    for name, data in sorted(extra.items()):
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    for path in modules:
        digest.update(path.encode() + b"\0")
        digest.update(hashlib.sha256((MODULES_ROOT / version / path).read_bytes()).digest())
    return digest.hexdigest()[:16]


def build_guest(
    cache_dir: Path,
    *,
    version: str | None = None,
    modules: tuple[str, ...] = DEFAULT_MODULES,
    ssh: bool = False,
) -> LinuxGuest:
    """The guest for ``version`` (the newest installed kernel by default), built into ``cache_dir``
    unless an identical build is already there. Written to a temporary file and renamed: parallel
    builders (xdist workers) never see half an initramfs. ``ssh``: with the SSH server that
    ``stratus.cloudinit=1`` starts (its Debian packages downloaded into ``cache_dir/debs`` once)."""
    if version is None:
        versions = kernel_versions()
        if not versions:
            raise FileNotFoundError("no kernel in /boot with modules: install linux-image-amd64")
        version = versions[-1]
    kernel = BOOT / f"vmlinuz-{version}"
    if not os.access(kernel, os.R_OK):
        raise PermissionError(f"{kernel} is not readable: QEMU could not boot it")
    paths = resolve_modules(version, modules)
    busybox = _static_busybox()
    extra = ssh_files(cache_dir / "debs") if ssh else {}
    initrd = cache_dir / f"linuxguest-{version}-{_fingerprint(version, paths, busybox, extra)}.cpio.gz"
    names = tuple(_module_name(path) for path in paths)
    if initrd.exists():
        return LinuxGuest(kernel, initrd, version, names, built=False)
    cache_dir.mkdir(parents=True, exist_ok=True)
    data = gzip.compress(initramfs(version, paths, busybox, extra), compresslevel=6, mtime=0)
    with tempfile.NamedTemporaryFile(dir=cache_dir, prefix=".linuxguest-", delete=False) as out:
        out.write(data)
    os.replace(out.name, initrd)
    return LinuxGuest(kernel, initrd, version, names, built=True)


def guest_cmdline(
    *,
    marker: str = DEFAULT_MARKER,
    hostname: str | None = None,
    token: str | None = None,
    dhcp: bool = True,
    http_port: int = 80,
    echo_port: int | None = None,
    metadata: bool = False,
    poweroff: bool = False,
    peers: tuple[str, ...] = (),
    peer_wait: int | None = None,
    config_drive: bool = False,
    cloudinit: bool = False,
    vtshell: bool = False,
) -> str:
    """The ``stratus.*`` options of /init, to pass as ``cmdline_extra``. Values are single words:
    /init splits /proc/cmdline on spaces. The metadata fetch is off by default: under QEMU user
    networking 169.254.169.254 is whatever the host reaches there (a cloud's own metadata)."""
    options = {
        "marker": marker,
        "hostname": hostname,
        "token": token,
        "dhcp": int(dhcp),
        "http": http_port,
        "echo": echo_port,
        "metadata": int(metadata),
        "poweroff": int(poweroff),
        "peers": ",".join(peers) or None,
        "peerwait": peer_wait,
        "configdrive": int(config_drive),
        "cloudinit": int(cloudinit),
        "vtshell": int(vtshell),
    }
    for name, value in options.items():
        if value is not None and not re.fullmatch(r"[\w.:,-]+", str(value)):
            raise ValueError(f"stratus.{name}={value!r} must be a single word")
    return " ".join(f"stratus.{name}={value}" for name, value in options.items() if value is not None)


def machine_argv(
    *,
    serial_path: Path,
    netdev_args: str | None,
    memory_mb: int = 256,
    mac: str = DEFAULT_MAC,
    qemu: str | None = None,
    accel: str = "tcg",
) -> list[str]:
    """A QEMU command line for the guest without what it boots from: the machine, the serial console
    written to ``serial_path`` and the NIC. ``netdev_args`` is a ``-netdev`` value naming its id (e.g.
    ``user,id=net0,hostfwd=...``), on which a virtio NIC with ``mac`` becomes the guest's eth0; None
    boots without a NIC. ``-no-reboot``: a panic (``panic=-1`` reboots) or a reboot ends QEMU instead
    of looping."""
    argv = [
        qemu or shutil.which("qemu-system-x86_64") or "qemu-system-x86_64",
        "-machine", f"q35,accel={accel}",
        "-cpu", "max",
        "-smp", "1",
        "-m", str(memory_mb),
        "-nodefaults", "-no-user-config", "-no-reboot",
        "-display", "none",
        "-serial", f"file:{serial_path}",
    ]  # fmt: skip
    if netdev_args is not None:
        netdev_id = re.search(r"(?:^|,)id=([^,]+)", netdev_args)
        if netdev_id is None:
            raise ValueError(f"-netdev {netdev_args!r} names no id")
        # No option ROM: the guest boots from its kernel or its disk, there is nothing to PXE boot.
        argv += [
            "-netdev", netdev_args,
            "-device", f"virtio-net-pci,netdev={netdev_id.group(1)},mac={mac},romfile=",
        ]  # fmt: skip
    return argv


def boot_argv(
    kernel: Path,
    initrd: Path,
    *,
    serial_path: Path,
    netdev_args: str | None,
    memory_mb: int = 256,
    cmdline_extra: str = "",
    mac: str = DEFAULT_MAC,
    qemu: str | None = None,
    accel: str = "tcg",
) -> list[str]:
    """A QEMU command line booting the guest directly (no firmware boot menu, no disk): the kernel
    with ``BASE_CMDLINE`` and ``cmdline_extra``. The other arguments are ``machine_argv``'s."""
    machine = machine_argv(
        serial_path=serial_path, netdev_args=netdev_args, memory_mb=memory_mb, mac=mac, qemu=qemu, accel=accel
    )
    return machine + [
        "-kernel", str(kernel),
        "-initrd", str(initrd),
        "-append", f"{BASE_CMDLINE} {cmdline_extra}".strip(),
    ]  # fmt: skip


def console_lines(serial_log: str, marker: str = DEFAULT_MARKER) -> list[str]:
    """The guest's own lines on its console, without the marker (kernel messages left out)."""
    prefix = f"{marker} "
    return [
        line.strip()[len(prefix) :] for line in serial_log.splitlines() if line.strip().startswith(prefix)
    ]


def console_fields(line: str) -> dict[str, str]:
    """``ip=10.0.2.15/24 gw=10.0.2.2`` as a dict."""
    return dict(word.split("=", 1) for word in line.split() if "=" in word)
