using System.Buffers.Binary;
using System.IO.Compression;
using System.IO.Hashing;

namespace DeepSharp.Data;

/// <summary>
/// Decompresses a gzip file (RFC 1952, one or more members) and checks what <see cref="GZipStream"/>
/// does not: every member must end with its 8-byte trailer, and the trailer's CRC-32 and length must
/// match the data. GZipStream returns whatever it inflated when the input simply stops, so a file
/// cut anywhere in its last few bytes (or mid-stream, at a block boundary) reads as a shorter, valid
/// one. Here the end of the data is an error unless a trailer proves it complete.
/// <para>
/// Inflating is zlib's (through <see cref="DeflateStream"/>). DeflateStream reads ahead and does not
/// say where the deflate data ended, so the input is fed in small chunks: when a member's stream
/// ends, its trailer begins somewhere in the last chunk or two, and it is the position there whose
/// eight bytes equal the CRC-32 and length of what was inflated (a 64-bit match, so a false one is
/// out of the question in practice). Headers are parsed here, with their optional fields and CRC-16.
/// </para>
/// </summary>
internal sealed class GzipReader : Stream
{
    private const int FeedChunk = 4096;

    private readonly Stream _file;
    private readonly long _length;
    private readonly string _where;
    private Feeder? _feeder;
    private DeflateStream? _inflate;
    private long _memberStart;
    private readonly Crc32 _crc = new();
    private long _size;
    private bool _end;

    /// <param name="file">A seekable stream holding the whole gzip file from position 0.</param>
    /// <param name="where">Names the file in errors.</param>
    public GzipReader(Stream file, string where)
    {
        if (!file.CanSeek) throw new ArgumentException("GzipReader needs a seekable stream", nameof(file));
        _file = file;
        _length = file.Length;
        _where = where;
    }

    public static bool HasMagic(ReadOnlySpan<byte> start) => start.Length >= 2 && start[0] == 0x1f && start[1] == 0x8b;

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (buffer.IsEmpty) return 0;
        while (!_end)
        {
            _inflate ??= StartMember();
            int n;
            try { n = _inflate.Read(buffer); }
            catch (Feeder.ReadFailure e) { System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerException!); throw; }
            catch (IOException e)
            {
                // Not the file (its errors come wrapped in ReadFailure): zlib, whose unexpected codes DeflateStream
                // reports as (internal) ZLibException, an IOException.
                throw new InvalidDataException($"{_where}: corrupt compressed data (zlib error): {e.Message}", e);
            }
            if (n > 0)
            {
                _crc.Append(buffer[..n]);
                _size += n;
                return n;
            }
            FinishMember();
        }
        return 0;
    }

    /// <summary>Parses the member header at <see cref="_memberStart"/> and starts inflating after it.</summary>
    private DeflateStream StartMember()
    {
        long p = _memberStart;
        Span<byte> fixedPart = stackalloc byte[10];
        if (ReadAt(p, fixedPart) < 10)
            throw new InvalidDataException($"{_where}: truncated gzip header at byte {p} ({_length - p} bytes, a header needs at least 10)");
        if (!HasMagic(fixedPart)) throw new InvalidDataException($"{_where}: bad gzip magic {fixedPart[0]:X2} {fixedPart[1]:X2} at byte {p} (expected 1F 8B)");
        if (fixedPart[2] != 8) throw new InvalidDataException($"{_where}: unknown gzip compression method {fixedPart[2]} (expected 8, deflate)");
        int flags = fixedPart[3];
        if ((flags & 0xE0) != 0) throw new InvalidDataException($"{_where}: reserved gzip header flags 0x{flags & 0xE0:X2} are set (corrupt header)");
        var headerCrc = new Crc32();
        headerCrc.Append(fixedPart);
        p += 10;
        if ((flags & 0x04) != 0) // FEXTRA: 2-byte length, then that many bytes
        {
            Span<byte> xlen = stackalloc byte[2];
            if (ReadAt(p, xlen) < 2) throw new InvalidDataException($"{_where}: truncated gzip header (extra field length)");
            int extra = BinaryPrimitives.ReadUInt16LittleEndian(xlen);
            if (p + 2 + extra > _length) throw new InvalidDataException($"{_where}: truncated gzip header (extra field of {extra} bytes)");
            headerCrc.Append(xlen);
            var extraBytes = new byte[extra];
            ReadAt(p + 2, extraBytes);
            headerCrc.Append(extraBytes);
            p += 2 + extra;
        }
        if ((flags & 0x08) != 0) p = SkipZeroTerminated(p, "file name", headerCrc);
        if ((flags & 0x10) != 0) p = SkipZeroTerminated(p, "comment", headerCrc);
        if ((flags & 0x02) != 0) // FHCRC: low 16 bits of the CRC-32 of the header so far
        {
            Span<byte> crc16 = stackalloc byte[2];
            if (ReadAt(p, crc16) < 2) throw new InvalidDataException($"{_where}: truncated gzip header (header CRC)");
            if (BinaryPrimitives.ReadUInt16LittleEndian(crc16) != (ushort)headerCrc.GetCurrentHashAsUInt32())
                throw new InvalidDataException($"{_where}: gzip header CRC mismatch (corrupt header)");
            p += 2;
        }
        _feeder = new Feeder(_file, p, _length);
        _crc.Reset();
        _size = 0;
        return new DeflateStream(_feeder, CompressionMode.Decompress, leaveOpen: true);
    }

    /// <summary>The member's deflate data ended (or the input did): find and check its trailer, then move to the next member or the end.</summary>
    private void FinishMember()
    {
        var feeder = _feeder!;
        _inflate!.Dispose();
        _inflate = null;
        // The trailer starts where the deflate data ended: inside the last chunks handed to zlib, or right after them.
        long lo = Math.Max(feeder.Start, feeder.WindowStart), hi = Math.Min(feeder.Served, _length - 8);
        uint crc = _crc.GetCurrentHashAsUInt32();
        long trailer = -1;
        if (hi >= lo)
        {
            var window = new byte[hi - lo + 8];
            int got = ReadAt(lo, window);
            for (int i = 0; i + 8 <= got && trailer < 0; i++)
                if (BinaryPrimitives.ReadUInt32LittleEndian(window.AsSpan(i)) == crc && BinaryPrimitives.ReadUInt32LittleEndian(window.AsSpan(i + 4)) == (uint)_size)
                    trailer = lo + i;
        }
        if (trailer < 0)
            throw new InvalidDataException(feeder.Served >= _length
                ? $"{_where}: truncated gzip data: the stream ends at byte {_length} without the CRC-32/length trailer that must close the compressed data ({_size} bytes inflated)"
                : $"{_where}: gzip trailer mismatch: the CRC-32 or length stored after the compressed data does not match the {_size} bytes inflated (corrupt file)");
        _memberStart = trailer + 8;
        if (_memberStart == _length)
        {
            _end = true;
            return;
        }
        Span<byte> magic = stackalloc byte[2];
        if (ReadAt(_memberStart, magic) < 2 || !HasMagic(magic))
            throw new InvalidDataException($"{_where}: {_length - _memberStart} bytes of trailing garbage after the gzip data (at byte {_memberStart})");
    }

    private long SkipZeroTerminated(long p, string what, Crc32 headerCrc)
    {
        Span<byte> block = stackalloc byte[256];
        while (true)
        {
            int got = ReadAt(p, block);
            if (got == 0) throw new InvalidDataException($"{_where}: truncated gzip header (unterminated {what})");
            int zero = block[..got].IndexOf((byte)0);
            int take = zero >= 0 ? zero + 1 : got;
            headerCrc.Append(block[..take]);
            p += take;
            if (zero >= 0) return p;
        }
    }

    private int ReadAt(long position, Span<byte> buffer)
    {
        if (position >= _length) return 0;
        _file.Position = position;
        return _file.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _inflate?.Dispose();
        base.Dispose(disposing);
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    /// <summary>Hands the file to zlib in small chunks from a start position, remembering where the last two began.</summary>
    private sealed class Feeder(Stream file, long start, long length) : Stream
    {
        public long Start { get; } = start;

        /// <summary>End of the bytes handed out so far.</summary>
        public long Served { get; private set; } = start;

        /// <summary>Start of the chunk before the last one: the deflate data ended at or after it.</summary>
        public long WindowStart { get; private set; } = start;

        private long _lastChunkStart = start;

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            int want = (int)Math.Min(Math.Min(buffer.Length, FeedChunk), length - Served);
            if (want <= 0) return 0;
            int got;
            try
            {
                file.Position = Served;
                got = file.Read(buffer[..want]);
            }
            catch (IOException e) { throw new ReadFailure(e); }
            WindowStart = _lastChunkStart;
            _lastChunkStart = Served;
            Served += got;
            return got;
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        /// <summary>An I/O error of the file itself, carried through DeflateStream so it is not taken for a zlib error.</summary>
        public sealed class ReadFailure(IOException inner) : IOException(inner.Message, inner);
    }
}
