"""A tiny bootable disk image built in Python: the accelerator probe's guest, and the tests' guest.

The 512-byte MBR boot sector is hand-assembled 16-bit x86 code, so no toolchain or downloaded
image is needed: it programs COM1 (0x3F8) for 115200 8N1, writes a marker line to the serial
port, optionally does a fixed number of ``out`` instructions to port 0x80 (each one a VM exit
under KVM, which is what a broken or crawling nested KVM is slow at) and writes an end marker,
then halts. The BIOS runs it on every boot, so each boot (first start, reboot, power on) adds the
marker to the console log once more. It has one partition entry and no ACPI support, so an ACPI
power-down request is ignored.
"""

from __future__ import annotations

import struct
from pathlib import Path

SECTOR = 512
LOAD_ADDRESS = 0x7C00
DISK_SIZE = 1024 * 1024
CODE_LIMIT = 446  # the partition table starts here
MAX_PORT_WRITES = 0xFFFF  # one 16-bit `loop` counter


def _out(port: int, value: int) -> bytes:
    # mov dx, port ; mov al, value ; out dx, al
    return b"\xba" + struct.pack("<H", port) + b"\xb0" + bytes([value]) + b"\xee"


def boot_sector(marker: str, *, port_writes: int = 0, end_marker: str | None = None) -> bytes:
    """The MBR: serial setup, ``marker``, then (with ``end_marker``) ``port_writes`` writes to
    port 0x80 and ``end_marker``, then cli/hlt forever. Strings are printed by one subroutine so
    that both markers fit in the 446 bytes before the partition table."""
    if not 0 <= port_writes <= MAX_PORT_WRITES:
        raise ValueError(f"port_writes must be between 0 and {MAX_PORT_WRITES}, not {port_writes}")
    if port_writes and end_marker is None:
        raise ValueError("port writes need an end marker to show that they are done")
    texts = [marker] if end_marker is None else [marker, end_marker]
    code = bytearray()
    code += b"\xfa"  # cli: no interrupts, so hlt below halts for good
    code += b"\x31\xc0"  # xor ax, ax
    code += b"\x8e\xd8"  # mov ds, ax
    code += b"\x8e\xd0"  # mov ss, ax
    code += b"\xbc\x00\x7c"  # mov sp, 0x7c00: the stack grows down below the boot sector
    code += b"\xfc"  # cld: lodsb walks forward
    code += _out(0x3F9, 0x00)  # IER: no UART interrupts
    code += _out(0x3FB, 0x80)  # LCR: DLAB on to set the divisor
    code += _out(0x3F8, 0x01)  # divisor low: 115200 baud
    code += _out(0x3F9, 0x00)  # divisor high
    code += _out(0x3FB, 0x03)  # LCR: 8N1, DLAB off
    code += _out(0x3FA, 0xC7)  # FCR: FIFO on and cleared
    code += _out(0x3FC, 0x0B)  # MCR: DTR, RTS, OUT2
    text_patches: list[int] = []  # offsets of `mov si, <text address>` immediates
    call_patches: list[int] = []  # offsets of `call print` displacements

    def print_text() -> None:
        text_patches.append(len(code) + 1)
        code.extend(b"\xbe\x00\x00")  # mov si, <text address>
        call_patches.append(len(code) + 1)
        code.extend(b"\xe8\x00\x00")  # call print

    print_text()
    if end_marker is not None:
        if port_writes:
            code += b"\xb9" + struct.pack("<H", port_writes)  # mov cx, port_writes
            code += b"\xe6\x80"  # out 0x80, al: a port write QEMU handles, a VM exit under KVM
            code += b"\xe2\xfc"  # loop back to the out while --cx != 0
        print_text()
    code += b"\xf4"  # hlt: the main path ends here, it never falls into the subroutine below
    code += b"\xeb\xfd"  # jmp back to hlt
    print_at = len(code)
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
    code += b"\xeb" + bytes([(print_at - (len(code) + 2)) & 0xFF])  # jmp print
    code[jz_at + 1] = len(code) - (jz_at + 2)
    code += b"\xc3"  # ret
    for patch, text in zip(text_patches, texts, strict=True):
        struct.pack_into("<H", code, patch, LOAD_ADDRESS + len(code))
        code += f"\r\n{text}\r\n".encode("ascii") + b"\x00"
    for patch in call_patches:
        struct.pack_into("<h", code, patch, print_at - (patch + 2))
    if len(code) > CODE_LIMIT:
        raise ValueError(f"markers {texts!r} are too long for a boot sector")
    # One partition (active, type 0x83, LBA 1 to the end of the disk): image format inspectors
    # (and Glance) refuse an MBR that defines no partition at all.
    entry = struct.pack("<B3BB3BII", 0x80, 0, 2, 0, 0x83, 0xFE, 0xFF, 0xFF, 1, DISK_SIZE // SECTOR - 1)
    return bytes(code).ljust(CODE_LIMIT, b"\x00") + entry.ljust(64, b"\x00") + b"\x55\xaa"


def build_boot_image(path: Path, marker: str, *, port_writes: int = 0, end_marker: str | None = None) -> Path:
    """Write a raw 1 MiB disk whose first sector prints ``marker`` on COM1 at every boot (see
    ``boot_sector`` for the port writes and the end marker)."""
    with open(path, "wb") as fh:
        fh.write(boot_sector(marker, port_writes=port_writes, end_marker=end_marker))
        fh.truncate(DISK_SIZE)
    return path


TICKS_PER_LINE = 9  # BIOS timer interrupts (18.2 Hz) between two lines: about two lines a second


def ticker_sector(marker: str, prefix: str = "tick ") -> bytes:
    """An MBR that prints ``marker`` once, then ``<prefix><counter>`` forever, about twice a second
    (the counter is four hex digits, from 0000). It waits for the BIOS timer with interrupts on and
    ``hlt``, so it costs almost no host CPU and its pace follows the wall clock. The counter lives in
    a register: a guest moved between hosts with its CPU and memory intact goes on counting where it
    was, and one that booted again starts from 0000 after a second ``marker``."""
    serial = b"".join(
        _out(port, value)
        for port, value in (
            (0x3F9, 0x00),
            (0x3FB, 0x80),
            (0x3F8, 0x01),
            (0x3F9, 0x00),
            (0x3FB, 0x03),
            (0x3FA, 0xC7),
            (0x3FC, 0x0B),
        )
    )  # fmt: skip (the same 115200 8N1 set-up as boot_sector)
    head = b"\xfa\x31\xc0\x8e\xd8\x8e\xd0\xbc\x00\x7c\xfc"  # cli; ds = ss = 0; sp = 0x7c00; cld
    # Offsets below are relative to `body`, which follows head + serial.
    body = bytearray()
    body += b"\xbe\x00\x00"  # 00 mov si, <marker>
    body += b"\xe8\x31\x00"  # 03 call print (0x37)
    body += b"\x31\xff"  # 06 xor di, di: the counter
    body += b"\xfb"  # 08 sti: the BIOS timer wakes the hlt below
    body += b"\xbe\x00\x00"  # 09 main: mov si, <prefix>
    body += b"\xe8\x28\x00"  # 0c call print
    body += b"\x89\xfb"  # 0f mov bx, di
    body += b"\xb9\x04\x00"  # 11 mov cx, 4: four hex digits, highest first
    body += b"\xc1\xc3\x04"  # 14 next: rol bx, 4
    body += b"\x88\xd8"  # 17 mov al, bl
    body += b"\x24\x0f"  # 19 and al, 0x0f
    body += b"\x04\x30"  # 1b add al, '0'
    body += b"\x3c\x39"  # 1d cmp al, '9'
    body += b"\x76\x02"  # 1f jbe +2
    body += b"\x04\x07"  # 21 add al, 7: 'A'..'F'
    body += b"\xe8\x1c\x00"  # 23 call putc (0x42)
    body += b"\xe2\xec"  # 26 loop next
    body += b"\xbe\x00\x00"  # 28 mov si, <crlf>
    body += b"\xe8\x09\x00"  # 2b call print
    body += b"\x47"  # 2e inc di
    body += b"\xb9" + struct.pack("<H", TICKS_PER_LINE)  # 2f mov cx, TICKS_PER_LINE
    body += b"\xf4"  # 32 wait: hlt until the next interrupt
    body += b"\xe2\xfd"  # 33 loop wait
    body += b"\xeb\xd2"  # 35 jmp main
    assert len(body) == 0x37
    body += b"\xac"  # 37 print: lodsb
    body += b"\x84\xc0"  # 38 test al, al
    body += b"\x74\x05"  # 3a jz ret
    body += b"\xe8\x03\x00"  # 3c call putc
    body += b"\xeb\xf6"  # 3f jmp print
    body += b"\xc3"  # 41 ret
    body += b"\x88\xc4"  # 42 putc: mov ah, al
    body += b"\xba\xfd\x03"  # 44 mov dx, 0x3fd (line status)
    body += b"\xec"  # 47 in al, dx
    body += b"\xa8\x20"  # 48 test al, 0x20 (transmit holding register empty)
    body += b"\x74\xfb"  # 4a jz back to the in
    body += b"\x88\xe0"  # 4c mov al, ah
    body += b"\xba\xf8\x03"  # 4e mov dx, 0x3f8 (data)
    body += b"\xee"  # 51 out dx, al
    body += b"\xc3"  # 52 ret
    code = bytearray(head + serial + body)
    start = len(head) + len(serial)
    for at, text in ((0x01, f"\r\n{marker}\r\n"), (0x0A, prefix), (0x29, "\r\n")):
        struct.pack_into("<H", code, start + at, LOAD_ADDRESS + len(code))
        code += text.encode("ascii") + b"\x00"
    if len(code) > CODE_LIMIT:
        raise ValueError(f"marker {marker!r} and prefix {prefix!r} are too long for a boot sector")
    entry = struct.pack("<B3BB3BII", 0x80, 0, 2, 0, 0x83, 0xFE, 0xFF, 0xFF, 1, DISK_SIZE // SECTOR - 1)
    return bytes(code).ljust(CODE_LIMIT, b"\x00") + entry.ljust(64, b"\x00") + b"\x55\xaa"


def build_ticker_image(path: Path, marker: str, prefix: str = "tick ") -> Path:
    """A raw 1 MiB disk that boots ``ticker_sector``: a guest that keeps writing to its serial port."""
    with open(path, "wb") as fh:
        fh.write(ticker_sector(marker, prefix))
        fh.truncate(DISK_SIZE)
    return path
