"""Byte-level WARC and ARC reading, free of Beam: what a file holds, warcio made strict about broken gzip, resync."""

from __future__ import annotations

import re
import zlib
from typing import BinaryIO

from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import DecompressingBufferedReader
from warcio.utils import BUFF_SIZE

SNIFF_BYTES = 1 << 16
_GZIP_MAGIC = b"\x1f\x8b\x08"
_RESYNC_MARKERS = (_GZIP_MAGIC, b"WARC/1.", b"WARC/0.")
# compressions seen on web archives that warcio cannot read (it reads gzip, per record or whole-file, and plain)
_OTHER_COMPRESSIONS = (
    (b"\x04\x22\x4d\x18", "lz4"),  # an LZ4 frame (FastWARC writes .warc.lz4)
    (b"\x28\xb5\x2f\xfd", "zstd"),  # a Zstandard frame (.warc.zst)
    (b"\x5d\x2a\x4d\x18", "zstd"),  # the skippable frame that carries a .warc.zst dictionary
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
)
# an ARC v1 record line: URL, IP address, 14-digit date, content type, length
_ARC_HEAD_RE = re.compile(rb"\S+ \S+ \d{14} \S+ \d+\r?\n")


class CorruptMember(Exception):
    """A gzip member that breaks after it began to decompress: warcio alone would end the file there, silently."""


def sniff(head: bytes) -> tuple[str, str]:
    """(archive, compression) from a file's first bytes: archive 'arc' or 'warc' ('' when neither shows), and
    compression '' or the name of one warcio cannot read."""
    if head.startswith(_GZIP_MAGIC):
        try:
            head = zlib.decompressobj(31).decompress(head, 64)
        except zlib.error:
            return "", ""
    else:
        for magic, name in _OTHER_COMPRESSIONS:
            if head.startswith(magic):
                return "", name
    if head.startswith(b"filedesc://"):  # every ARC file opens with its filedesc version block
        return "arc", ""
    return ("warc", "") if head.startswith(b"WARC/") else ("", "")


class ReplayStream:
    """A stream that cannot seek, with the bytes sniffed from its start put back in front."""

    def __init__(self, head: bytes, rest: BinaryIO):
        self._head, self._rest, self._pos = head, rest, 0

    def read(self, size: int = -1) -> bytes:
        if self._pos < len(self._head):
            end = len(self._head) if size is None or size < 0 else min(len(self._head), self._pos + size)
            out = self._head[self._pos:end]
        else:
            out = self._rest.read(size)
        self._pos += len(out)
        return out

    def tell(self) -> int:
        return self._pos


def open_sniffed(fh: BinaryIO, seekable: bool) -> tuple[BinaryIO, bytes]:
    """The stream to read from its start, and its first SNIFF_BYTES bytes."""
    head = fh.read(SNIFF_BYTES)
    if seekable:
        fh.seek(0)
        return fh, head
    return ReplayStream(head, fh), head


class _StrictGzipReader(DecompressingBufferedReader):
    """warcio's reader, except that a member broken past its first block raises instead of ending the stream."""

    def _decompress(self, data: bytes) -> bytes:
        if self.decompressor is not None and data and self.num_block_read:
            try:
                return self.decompressor.decompress(data)
            except zlib.error as exc:  # warcio prints this to stderr and returns b'', losing the rest of the file
                raise CorruptMember(f"broken gzip member: {exc}") from exc
        return super()._decompress(data)  # the first block: warcio tells gzip from plain by trying

    def consumed(self) -> int:
        """Decompressed bytes handed out so far."""
        buffered = self.buff_size - self.buff.tell() if self.buff else 0
        return self.num_read - buffered


class RecordIterator(ArchiveIterator):
    """warcio's ArchiveIterator that raises CorruptMember on a broken gzip member, reads ARC files as WARC records,
    and reads a file gzipped as one stream (not one member per record), giving its records uncompressed offsets."""

    def __init__(self, fh: BinaryIO, arc: bool = False):
        super().__init__(fh, arc2warc=arc)
        if arc:
            self.known_format = "arc"  # parse every record as ARC: arc2warc alone would try WARC first on each
        self.reader = _StrictGzipReader(self.fh, block_size=BUFF_SIZE)
        self.one_gzip_stream = False
        self._plain_start = self._plain_next = 0

    def _raise_invalid_gzip_err(self) -> None:
        self.one_gzip_stream = True  # warcio refuses these only because they cannot be sought per record

    def _next_record(self, next_line):
        self._plain_start = self._plain_next
        return super()._next_record(next_line)

    def read_to_end(self, record=None):
        fresh = self.record is not None and self.member_info is None
        super().read_to_end(record)
        if fresh and self.reader is not None:
            self._plain_next = self.reader.consumed() - len(self.next_line or b"")

    def start_offset(self) -> int:
        """Where the current record starts: in the file, or in the uncompressed stream when it is one gzip."""
        return self._plain_start if self.one_gzip_stream else self.offset


def find_next_record(fh: BinaryIO, start: int, arc: bool = False, chunk_bytes: int = 1 << 20) -> int | None:
    """The offset of the next gzip member (or plain record) at or after `start` that opens a WARC (or ARC) record."""
    fh.seek(start)
    pos, carry = start, b""
    while True:
        chunk = fh.read(chunk_bytes)
        if not chunk:
            return None
        data = carry + chunk
        base = pos - len(carry)
        found = [at for at in (_first_record(data, marker, arc) for marker in _RESYNC_MARKERS) if at is not None]
        if found:
            return base + min(found)
        carry = data[-4096:]
        pos += len(chunk)
        fh.seek(pos)


def _first_record(data: bytes, marker: bytes, arc: bool) -> int | None:
    at = data.find(marker)
    while at != -1:
        if _opens_record(data[at:at + 4096], arc):
            return at
        at = data.find(marker, at + 1)
    return None


def _opens_record(head: bytes, arc: bool) -> bool:
    if head.startswith(b"WARC/"):
        return True
    try:
        plain = zlib.decompressobj(31).decompress(head, 2048)
    except zlib.error:
        return False
    return plain.startswith(b"WARC/") or (arc and _ARC_HEAD_RE.match(plain) is not None)
