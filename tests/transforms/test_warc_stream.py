from __future__ import annotations

import bz2
import gzip
import io
import lzma
import random

import pytest

from tests.conftest import DATA, REPO
from transforms.warc_stream import CorruptMember, RecordIterator, ReplayStream, find_next_record, open_sniffed, sniff

RESILIPARSE = REPO / "sample" / "warc" / "cc-resiliparse__warcfile.warc.gz"
ARC_HEAD = b"filedesc://crawl.arc 0.0.0.0 20200810000000 text/plain 76\n1 0 test\n"


def test_sniff_tells_warc_arc_and_compressions_warcio_cannot_read():
    real = RESILIPARSE.read_bytes()
    plain = gzip.decompress(real)
    assert sniff(real[:65536]) == ("warc", "") and sniff(plain[:100]) == ("warc", "")
    assert sniff(ARC_HEAD) == ("arc", "") and sniff(gzip.compress(ARC_HEAD)) == ("arc", "")
    assert sniff(bz2.compress(plain)[:100]) == ("", "bzip2")
    assert sniff(lzma.compress(plain)[:100]) == ("", "xz")
    assert sniff((DATA / "warc" / "whirlwind__whirlwind.warc.lz4").read_bytes()[:100]) == ("", "lz4")
    assert sniff(b"\x28\xb5\x2f\xfd" + bytes(20)) == ("", "zstd")  # the Zstandard frame magic (RFC 8878)
    assert sniff(gzip.compress(b"<html>not an archive</html>")) == ("", "")  # warcio decides: not_warc
    assert sniff(b"\x1f\x8b\x08" + bytes(40)) == ("", "")  # a broken gzip header: warcio decides
    assert sniff(b"") == ("", "")


def test_a_stream_that_cannot_seek_gets_its_sniffed_head_back():
    data = random.Random(1).randbytes(200_000)

    class NoSeek(io.RawIOBase):
        def __init__(self):
            self.inner = io.BytesIO(data)

        def read(self, size=-1):
            return self.inner.read(size)

    stream, head = open_sniffed(NoSeek(), seekable=False)
    assert isinstance(stream, ReplayStream) and head == data[:65536]
    got = b"".join(iter(lambda: stream.read(10_000), b""))
    assert got == data and stream.tell() == len(data)


def test_a_broken_member_raises_instead_of_ending_the_file():
    good = RESILIPARSE.read_bytes()
    junk_at = 115181  # inside the member of the response at 110823
    broken = good[:junk_at] + random.Random(12).randbytes(2000) + good[junk_at:]
    it = RecordIterator(io.BytesIO(broken))
    offsets = []
    with pytest.raises(CorruptMember, match="Error -3 while decompressing"):
        for record in it:
            offsets.append(it.start_offset())
            record.content_stream().read()
    assert offsets[-1] == 110823
    assert find_next_record(io.BytesIO(broken), 110824) == 119539 + 2000  # the next member (a metadata record)


def test_one_gzip_stream_gives_uncompressed_offsets():
    plain = gzip.decompress(RESILIPARSE.read_bytes())
    it = RecordIterator(io.BytesIO(gzip.compress(plain)))
    starts = []
    for record in it:
        starts.append((it.start_offset(), record.rec_headers.get_header("WARC-Record-ID")))
    assert it.one_gzip_stream and len(starts) == 50
    with io.BytesIO(plain) as fh:
        plain_it = RecordIterator(fh)
        expected = [(plain_it.start_offset(), r.rec_headers.get_header("WARC-Record-ID")) for r in plain_it]
    assert starts == expected


def test_resync_finds_an_arc_member_only_when_reading_arc():
    record = b"http://example.org/ 93.184.216.34 20200810000000 text/html 5\nhello\n"
    data = random.Random(3).randbytes(3000) + gzip.compress(record)
    assert find_next_record(io.BytesIO(data), 0, arc=True) == 3000
    assert find_next_record(io.BytesIO(data), 0) is None
