"""The few bpf(2) commands the control plane needs, through ctypes.

Loading the ELF object is libbpf's job (bpftool); once maps and programs are
pinned, everything else is a handful of fixed-layout syscalls (and mmap, for
the datapath's globals), so no binding library is needed for them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import mmap
import os
import platform
import struct
from dataclasses import dataclass
from functools import lru_cache
from typing import Self

import numpy as np

_NR_BPF = {"x86_64": 321, "aarch64": 280}[platform.machine()]
_ATTR_SIZE = 144

BPF_MAP_LOOKUP_ELEM = 1
BPF_MAP_UPDATE_ELEM = 2
BPF_PROG_TEST_RUN = 10
BPF_OBJ_GET = 7
BPF_OBJ_GET_INFO_BY_FD = 15
BPF_MAP_LOOKUP_BATCH = 24
BPF_MAP_UPDATE_BATCH = 26
BPF_ENABLE_STATS = 32
BPF_STATS_RUN_TIME = 0

BPF_ANY = 0

PERCPU_MAP_TYPES = {5, 6, 10}  # PERCPU_HASH, PERCPU_ARRAY, LRU_PERCPU_HASH

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _bpf(cmd: int, attr: ctypes.Array) -> int:
    ret = _libc.syscall(_NR_BPF, cmd, ctypes.byref(attr), ctypes.sizeof(attr))
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"bpf(cmd={cmd}): {os.strerror(err)}")
    return ret


def _attr(fmt: str, *values: int) -> ctypes.Array:
    buf = ctypes.create_string_buffer(_ATTR_SIZE)
    struct.pack_into(fmt, buf, 0, *values)
    return buf


def _addr(buf: ctypes.Array | None) -> int:
    return ctypes.addressof(buf) if buf is not None else 0


@lru_cache(maxsize=1)
def possible_cpus() -> int:
    """Per-CPU map values come one per *possible* CPU, not per online CPU."""
    text = open("/sys/devices/system/cpu/possible").read().strip()
    total = 0
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        total += int(hi or lo) - int(lo) + 1
    return total


def obj_get(path: str) -> int:
    """Open a pinned map or program; the caller closes the fd."""
    name = ctypes.create_string_buffer(path.encode())
    return _bpf(BPF_OBJ_GET, _attr("=QII", _addr(name), 0, 0))


@dataclass(frozen=True)
class MapInfo:
    type: int
    id: int
    key_size: int
    value_size: int
    max_entries: int
    name: str


def map_info(fd: int) -> MapInfo:
    info = ctypes.create_string_buffer(88)
    _bpf(BPF_OBJ_GET_INFO_BY_FD, _attr("=IIQ", fd, len(info), _addr(info)))
    type_, id_, key_size, value_size, max_entries, _flags = struct.unpack_from("=6I", info, 0)
    name = bytes(info[24:40]).split(b"\0", 1)[0].decode()
    return MapInfo(type_, id_, key_size, value_size, max_entries, name)


def prog_id(fd: int) -> int:
    info = ctypes.create_string_buffer(256)
    _bpf(BPF_OBJ_GET_INFO_BY_FD, _attr("=IIQ", fd, len(info), _addr(info)))
    return struct.unpack_from("=I", info, 4)[0]


def prog_run_stats(fd: int) -> tuple[int, int]:
    """(run_time_ns, run_cnt) of a program: counted only while run-time
    statistics are on (enable_run_time_stats)."""
    info = ctypes.create_string_buffer(216)
    _bpf(BPF_OBJ_GET_INFO_BY_FD, _attr("=IIQ", fd, len(info), _addr(info)))
    return struct.unpack_from("=QQ", info, 192)


def enable_run_time_stats() -> int:
    """BPF_ENABLE_STATS: every program's run time is counted while the
    returned fd is open (host-wide; closing it turns the counting off again,
    unless another holder or the kernel.bpf_stats_enabled sysctl keeps it on)."""
    return _bpf(BPF_ENABLE_STATS, _attr("=I", BPF_STATS_RUN_TIME))


class _Closing:
    """`with` support for objects that own an fd (and close it in close())."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class BpfMap(_Closing):
    """A pinned (or fd-owned) map; values are raw bytes, per-CPU maps give one
    value per possible CPU (each padded to 8 bytes, as the kernel lays them out)."""

    def __init__(self, fd: int):
        self.fd = fd
        self.info = map_info(fd)
        self.percpu = self.info.type in PERCPU_MAP_TYPES
        self.slot = (self.info.value_size + 7) & ~7 if self.percpu else self.info.value_size
        self.value_len = self.slot * possible_cpus() if self.percpu else self.info.value_size

    @classmethod
    def pinned(cls, path: str) -> BpfMap:
        return cls(obj_get(path))

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def lookup(self, key: bytes) -> bytes | None:
        kbuf = ctypes.create_string_buffer(key, self.info.key_size)
        vbuf = ctypes.create_string_buffer(self.value_len)
        try:
            _bpf(BPF_MAP_LOOKUP_ELEM, _attr("=IIQQQ", self.fd, 0, _addr(kbuf), _addr(vbuf), 0))
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno == 2:
                return None
            raise
        return vbuf.raw

    def lookup_percpu(self, key: bytes) -> list[bytes] | None:
        raw = self.lookup(key)
        if raw is None:
            return None
        size = self.info.value_size
        return [raw[i * self.slot : i * self.slot + size] for i in range(possible_cpus())]

    def update(self, key: bytes, value: bytes, flags: int = BPF_ANY) -> None:
        kbuf = ctypes.create_string_buffer(key, self.info.key_size)
        vbuf = ctypes.create_string_buffer(value, self.value_len)
        _bpf(BPF_MAP_UPDATE_ELEM, _attr("=IIQQQ", self.fd, 0, _addr(kbuf), _addr(vbuf), flags))

    def update_batch(self, keys: bytes, values: bytes, count: int) -> None:
        """One syscall for many entries (arrays: rewriting a Maglev ring)."""
        if not count:
            return
        kbuf = ctypes.create_string_buffer(keys, len(keys))
        vbuf = ctypes.create_string_buffer(values, len(values))
        attr = _attr("=QQQQIIQQ", 0, 0, _addr(kbuf), _addr(vbuf), count, self.fd, 0, 0)
        _bpf(BPF_MAP_UPDATE_BATCH, attr)

    def values(self) -> list[bytes]:
        """Every value of an array map in key order, a few syscalls in all
        (BPF_MAP_LOOKUP_BATCH); per-CPU values come as in `lookup`."""
        total = self.info.max_entries
        kbuf = ctypes.create_string_buffer(self.info.key_size * total)
        vbuf = ctypes.create_string_buffer(self.value_len * total)
        token = ctypes.create_string_buffer(4)
        done = 0
        while done < total:
            attr = _attr("=QQQQIIQQ", _addr(token) if done else 0, _addr(token),
                         _addr(kbuf) + done * self.info.key_size,
                         _addr(vbuf) + done * self.value_len, total - done, self.fd, 0, 0)
            try:
                _bpf(BPF_MAP_LOOKUP_BATCH, attr)
            except OSError as exc:
                if exc.errno != 2:  # ENOENT: the last batch
                    raise
                done += struct.unpack_from("=I", attr, 32)[0]
                break
            done += struct.unpack_from("=I", attr, 32)[0]
        raw = vbuf.raw
        return [raw[i * self.value_len:(i + 1) * self.value_len] for i in range(done)]


@dataclass(frozen=True)
class TestRun:
    retval: int
    duration_ns: int
    data: bytes


def prog_test_run(prog_fd: int, data: bytes, repeat: int = 1, ctx: bytes | None = None,
                  flags: int = 0, batch_size: int = 0) -> TestRun:
    """BPF_PROG_TEST_RUN: run the program on `data`; duration is the kernel's
    average per run. With repeat > 1 the program sees the buffer as the previous
    run left it, so encapsulating programs need repeat=1 or a rewinding build."""
    din = ctypes.create_string_buffer(data, len(data))
    dout = ctypes.create_string_buffer(len(data) + 256)
    cbuf = ctypes.create_string_buffer(ctx, len(ctx)) if ctx else None
    attr = _attr("=IIIIQQIIIIQQIII", prog_fd, 0, len(data), len(dout),
                 _addr(din), _addr(dout),
                 repeat, 0, len(ctx) if ctx else 0, 0, _addr(cbuf), 0, flags, 0, batch_size)
    _bpf(BPF_PROG_TEST_RUN, attr)
    retval, _, size_out = struct.unpack_from("=III", attr, 4)
    duration = struct.unpack_from("=I", attr, 36)[0]
    return TestRun(retval, duration, dout.raw[: min(size_out, len(dout))])


class GlobalTable(_Closing):
    """Records of one size, kept in a global of the datapath (its own .data.*
    section, which libbpf makes a one-element BPF_F_MMAPABLE array map). The
    datapath reads records by address; the control plane reads and writes them
    through a shared mapping of the map. Same interface as BpfMap for an array
    map with u32 keys. A record is written with one memcpy, as the kernel's own
    array update does: no lock against the datapath either way."""

    def __init__(self, fd: int, record_size: int):
        self.fd = fd
        raw = map_info(fd)
        if raw.max_entries != 1 or raw.value_size % record_size:
            os.close(fd)
            raise ValueError(f"map {raw.name}: not a global of {record_size}-byte records")
        self.info = MapInfo(raw.type, raw.id, 4, record_size, raw.value_size // record_size, raw.name)
        self.percpu = False
        self.value_len = record_size
        length = -(-raw.value_size // mmap.PAGESIZE) * mmap.PAGESIZE
        try:
            self.mem = mmap.mmap(fd, length, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        except OSError:
            os.close(fd)
            raise

    @classmethod
    def pinned(cls, path: str, record_size: int) -> GlobalTable:
        return cls(obj_get(path), record_size)

    def close(self) -> None:
        if self.fd >= 0:
            self.mem.close()
            os.close(self.fd)
            self.fd = -1

    def _span(self, key: bytes) -> slice:
        idx = struct.unpack("=I", key)[0]
        if idx >= self.info.max_entries:
            raise OSError(7, f"{self.info.name}: record {idx} of {self.info.max_entries}")
        return slice(idx * self.value_len, (idx + 1) * self.value_len)

    def lookup(self, key: bytes) -> bytes:
        return self.mem[self._span(key)]

    def update(self, key: bytes, value: bytes, flags: int = BPF_ANY) -> None:
        if len(value) > self.value_len:
            raise ValueError(f"{self.info.name}: {len(value)}-byte value for {self.value_len}-byte records")
        self.mem[self._span(key)] = value.ljust(self.value_len, b"\0")

    def _records(self) -> np.ndarray:
        """The whole table as a writable (records, record_size) byte array;
        drop it before close() (it holds the mapping)."""
        count, size = self.info.max_entries, self.value_len
        return np.frombuffer(self.mem, dtype=np.uint8, count=count * size).reshape(count, size)

    def update_batch(self, keys: bytes, values: bytes, count: int) -> None:
        """Many records at once (a Maglev ring: tens of thousands of slots)."""
        if not count:
            return
        idx = np.frombuffer(keys, dtype="=u4", count=count)
        if int(idx.max()) >= self.info.max_entries:
            raise OSError(7, f"{self.info.name}: record {int(idx.max())} of {self.info.max_entries}")
        rows = np.frombuffer(values, dtype=np.uint8, count=count * self.value_len)
        table = self._records()
        table[idx] = rows.reshape(count, self.value_len)
        del table

    def raw(self) -> bytes:
        """Every record, back to back (one copy of the table)."""
        return self.mem[: self.info.max_entries * self.value_len]

    def values(self) -> list[bytes]:
        size, raw = self.value_len, self.raw()
        return [raw[i * size:(i + 1) * size] for i in range(self.info.max_entries)]
