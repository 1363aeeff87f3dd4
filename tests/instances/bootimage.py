"""A tiny bootable disk image built in Python, for tests that need a real guest.

The 512-byte MBR boot sector is hand-assembled 16-bit x86 code: it programs COM1 (0x3F8) for
115200 8N1, writes a marker line to the serial port and halts. The BIOS runs it on every boot,
so each boot (first start, reboot, power on) adds the marker to the console log once more.
It has one partition entry and no ACPI support, so an ACPI power-down request is ignored.
"""

from __future__ import annotations

import struct
from pathlib import Path

SECTOR = 512
LOAD_ADDRESS = 0x7C00
DISK_SIZE = 1024 * 1024


def _out(port: int, value: int) -> bytes:
    # mov dx, port ; mov al, value ; out dx, al
    return b"\xba" + struct.pack("<H", port) + b"\xb0" + bytes([value]) + b"\xee"


def boot_sector(marker: str) -> bytes:
    """The MBR: serial setup, a print loop over the marker, then cli/hlt forever."""
    text = (f"\r\n{marker}\r\n").encode("ascii") + b"\x00"
    code = bytearray()
    code += b"\xfa"  # cli: no interrupts, so hlt below halts for good
    code += b"\x31\xc0"  # xor ax, ax
    code += b"\x8e\xd8"  # mov ds, ax
    code += b"\x8e\xd0"  # mov ss, ax
    code += b"\xbc\x00\x7c"  # mov sp, 0x7c00
    code += b"\xfc"  # cld: lodsb walks forward
    code += _out(0x3F9, 0x00)  # IER: no UART interrupts
    code += _out(0x3FB, 0x80)  # LCR: DLAB on to set the divisor
    code += _out(0x3F8, 0x01)  # divisor low: 115200 baud
    code += _out(0x3F9, 0x00)  # divisor high
    code += _out(0x3FB, 0x03)  # LCR: 8N1, DLAB off
    code += _out(0x3FA, 0xC7)  # FCR: FIFO on and cleared
    code += _out(0x3FC, 0x0B)  # MCR: DTR, RTS, OUT2
    mov_si_at = len(code)
    code += b"\xbe\x00\x00"  # mov si, <text address>, patched below
    loop_at = len(code)
    code += b"\xac"  # lodsb
    code += b"\x84\xc0"  # test al, al
    jz_at = len(code)
    code += b"\x74\x00"  # jz done, patched below
    code += b"\x88\xc4"  # mov ah, al: keep the character while polling the status
    code += b"\xba\xfd\x03"  # mov dx, 0x3fd (line status)
    code += b"\xec"  # in al, dx
    code += b"\xa8\x20"  # test al, 0x20 (transmit holding register empty)
    code += b"\x74\xfb"  # jz back to `in al, dx`
    code += b"\x88\xe0"  # mov al, ah
    code += b"\xba\xf8\x03"  # mov dx, 0x3f8 (data)
    code += b"\xee"  # out dx, al
    code += b"\xeb" + bytes([(loop_at - (len(code) + 2)) & 0xFF])  # jmp loop
    done_at = len(code)
    code += b"\xf4"  # hlt
    code += b"\xeb\xfd"  # jmp back to hlt
    code[jz_at + 1] = done_at - (jz_at + 2)
    struct.pack_into("<H", code, mov_si_at + 1, LOAD_ADDRESS + len(code))
    code += text
    if len(code) > 446:  # must not reach the partition table area
        raise ValueError(f"marker {marker!r} is too long for a boot sector")
    # One partition (active, type 0x83, LBA 1 to the end of the disk): image format inspectors
    # (and Glance) refuse an MBR that defines no partition at all.
    entry = struct.pack("<B3BB3BII", 0x80, 0, 2, 0, 0x83, 0xFE, 0xFF, 0xFF, 1, DISK_SIZE // SECTOR - 1)
    return bytes(code).ljust(446, b"\x00") + entry.ljust(64, b"\x00") + b"\x55\xaa"


def build_boot_image(path: Path, marker: str) -> Path:
    """Write a raw 1 MiB disk whose first sector prints ``marker`` on COM1 at every boot."""
    with open(path, "wb") as fh:
        fh.write(boot_sector(marker))
        fh.truncate(DISK_SIZE)
    return path
