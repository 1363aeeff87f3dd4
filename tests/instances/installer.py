"""The tests' installer ISO: an El Torito CD whose boot code does what an OS installer does to a
blank root disk, in a few dozen hand-assembled bytes.

The CD's no-emulation boot image is loaded by the BIOS at 0x0800:0000 (linear 0x8000). Its code
reads sector 0 of the first hard disk (BIOS int 13h, drive 0x80) and looks for our signature in
the MBR's disk-signature field (bytes 440-443):

- absent (a blank disk): it writes the "installed system" onto sector 0 (a boot sector that prints
  ``INSTALLED-DISK-BOOTS <token>`` on COM1, see instances.virt.bootsector), prints
  ``INSTALLER-DONE`` and halts;
- present (the installed disk): it prints ``INSTALLER-CHAINLOAD`` and chain-loads the disk: the
  sector it read is already at 0x7C00, so it jumps there with DL=0x80, as an installer CD's
  "boot from the first hard disk" entry does.

So a guest that boots the CD first installs onto vda on its first boot, and boots vda's system
on every boot after that.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pycdlib

from tests.instances.bootimage import boot_sector

LOAD_SEGMENT = 0x0800
BASE = LOAD_SEGMENT * 16  # where the BIOS puts the boot image
SECTOR = 512
DISK_BUFFER = 0x7C00  # where the disk's sector 0 is read to, and where a boot sector runs
SIGNATURE_OFFSET = 440  # the MBR's disk-signature field
SIGNATURE = b"STRA"
START, DONE, CHAINLOAD, DISK_ERROR = (
    "INSTALLER-START",
    "INSTALLER-DONE",
    "INSTALLER-CHAINLOAD",
    "INSTALLER-DISK-ERROR",
)


def installed_marker(token: str) -> str:
    return f"INSTALLED-DISK-BOOTS {token}"


class _Code:
    """Just enough of an assembler for the boot code: bytes, labels, and the three kinds of
    reference to a label it needs (8-bit and 16-bit relative jumps, 16-bit absolute addresses)."""

    def __init__(self, base: int):
        self.base = base
        self.data = bytearray()
        self.labels: dict[str, int] = {}
        self.fixups: list[tuple[int, str, str]] = []  # (offset, label, kind)

    def emit(self, *chunks: bytes) -> None:
        for chunk in chunks:
            self.data += chunk

    def label(self, name: str) -> None:
        if name in self.labels:
            raise ValueError(f"label {name} is defined twice")
        self.labels[name] = len(self.data)

    def ref(self, opcode: bytes, name: str, kind: str) -> None:
        self.data += opcode
        self.fixups.append((len(self.data), name, kind))
        self.data += b"\x00" * (1 if kind == "rel8" else 2)

    def address(self, name: str) -> int:
        return self.base + self.labels[name]

    def assemble(self) -> bytes:
        for offset, name, kind in self.fixups:
            target = self.labels[name]
            if kind == "abs16":
                struct.pack_into("<H", self.data, offset, self.base + target)
            elif kind == "rel16":
                struct.pack_into("<h", self.data, offset, target - (offset + 2))
            else:
                delta = target - (offset + 1)
                if not -128 <= delta <= 127:
                    raise ValueError(f"jump to {name} is too far for a short jump")
                struct.pack_into("<b", self.data, offset, delta)
        return bytes(self.data)


def _serial_setup() -> bytes:
    """COM1 at 115200 8N1, FIFO on, no interrupts: (port, value) pairs written with out dx, al."""
    writes = [(0x3F9, 0x00), (0x3FB, 0x80), (0x3F8, 0x01), (0x3F9, 0x00), (0x3FB, 0x03), (0x3FA, 0xC7),
              (0x3FC, 0x0B)]  # fmt: skip
    return b"".join(
        b"\xba" + struct.pack("<H", port) + b"\xb0" + bytes([value]) + b"\xee" for port, value in writes
    )


def _int13(code: _Code, function: int, buffer: int) -> None:
    """One sector (cylinder 0, head 0, sector 1) of drive 0x80 to or from ``buffer``; CF on error."""
    code.emit(
        b"\xb8" + struct.pack("<H", function << 8 | 1),  # mov ax, function:1 sector
        b"\xb9\x01\x00",  # mov cx, 0x0001: cylinder 0, sector 1
        b"\xba\x80\x00",  # mov dx, 0x0080: head 0, first hard disk
        b"\xbb" + struct.pack("<H", buffer),  # mov bx, buffer (es = 0)
        b"\xcd\x13",  # int 0x13
    )
    code.ref(b"\x72", "disk_error", "rel8")  # jc disk_error


def installer_boot_code() -> bytes:
    """The boot image's first sector: the installer's logic (see the module docstring)."""
    code = _Code(BASE)
    code.emit(b"\xea" + struct.pack("<HH", BASE + 5, 0))  # jmp 0000:start: from here on cs = 0
    code.emit(b"\xfa", b"\x31\xc0", b"\x8e\xd8", b"\x8e\xc0", b"\x8e\xd0")  # cli; ds = es = ss = 0
    code.emit(b"\xbc\x00\x7c", b"\xfb", b"\xfc")  # mov sp, 0x7c00; sti; cld
    code.emit(_serial_setup())

    def say(text: str) -> None:
        code.ref(b"\xbe", f"text_{text}", "abs16")  # mov si, text
        code.ref(b"\xe8", "print", "rel16")  # call print

    say("start")
    _int13(code, 0x02, DISK_BUFFER)  # read the disk's sector 0
    for half in range(2):
        field = DISK_BUFFER + SIGNATURE_OFFSET + 2 * half
        expected = SIGNATURE[2 * half : 2 * half + 2]
        code.emit(b"\x81\x3e" + struct.pack("<H", field) + expected)  # cmp word [field], expected
        code.ref(b"\x75", "install", "rel8")  # jne install
    say("chainload")
    code.emit(b"\xb2\x80", b"\xea" + struct.pack("<HH", DISK_BUFFER, 0))  # mov dl, 0x80; jmp 0000:7c00
    code.label("install")
    _int13(code, 0x03, BASE + SECTOR)  # write the payload (the boot image's second sector)
    say("done")
    code.label("halt")
    code.emit(b"\xfa", b"\xf4", b"\xeb\xfd")  # cli; hlt; jmp back to hlt
    code.label("disk_error")
    say("disk_error")
    code.ref(b"\xeb", "halt", "rel8")
    # print: the NUL-terminated string at si to COM1, polling the line status before each byte.
    code.label("print")
    code.emit(b"\xac", b"\x84\xc0")  # lodsb; test al, al
    code.ref(b"\x74", "print_end", "rel8")  # jz print_end
    code.emit(b"\x88\xc4", b"\xba\xfd\x03", b"\xec", b"\xa8\x20", b"\x74\xfb")  # wait for THR empty
    code.emit(b"\x88\xe0", b"\xba\xf8\x03", b"\xee")  # mov al, ah; mov dx, 0x3f8; out dx, al
    code.ref(b"\xeb", "print", "rel8")
    code.label("print_end")
    code.emit(b"\xc3")  # ret
    for name, text in (
        ("start", START),
        ("chainload", CHAINLOAD),
        ("done", DONE),
        ("disk_error", DISK_ERROR),
    ):
        code.label(f"text_{name}")
        code.emit(f"\r\n{text}\r\n".encode("ascii") + b"\x00")
    data = code.assemble()
    if len(data) > SECTOR:
        raise ValueError("the installer's boot code does not fit in one sector")
    return data.ljust(SECTOR, b"\x00")


def installed_sector(token: str) -> bytes:
    """What the installer writes to sector 0: the marker boot sector, signed in its disk-signature field."""
    sector = bytearray(boot_sector(installed_marker(token)))
    field = slice(SIGNATURE_OFFSET, SIGNATURE_OFFSET + len(SIGNATURE))
    if any(sector[field]):
        raise ValueError("the installed boot sector's code reaches into the disk-signature field")
    sector[field] = SIGNATURE
    return bytes(sector)


def build_installer_iso(path: Path, token: str) -> Path:
    """An ISO 9660 image with an El Torito no-emulation boot entry running the installer."""
    boot = (installer_boot_code() + installed_sector(token)).ljust(2048, b"\x00")
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=1, vol_ident="STRATUS_INSTALLER")
    iso.add_fp(io.BytesIO(boot), len(boot), "/INSTALL.BIN;1")
    iso.add_eltorito(
        "/INSTALL.BIN;1",
        bootcatfile="/BOOT.CAT;1",
        boot_load_size=len(boot) // SECTOR,
        boot_load_seg=LOAD_SEGMENT,
    )
    try:
        iso.write(str(path))
    finally:
        iso.close()
    return path
