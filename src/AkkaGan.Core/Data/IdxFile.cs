using System.Buffers.Binary;
using System.IO.Compression;

namespace AkkaGan.Core.Data;

/// <summary>Thrown when an IDX dataset file is missing, truncated or malformed; the message names the file.</summary>
public sealed class DatasetException : Exception
{
    /// <summary>Creates the exception with <paramref name="message"/>, which names the file and the problem.</summary>
    public DatasetException(string message) : base(message) { }
    /// <summary>Creates the exception with <paramref name="message"/> and its cause.</summary>
    public DatasetException(string message, Exception inner) : base(message, inner) { }
    /// <summary>Creates the exception with the default message.</summary>
    public DatasetException() { }
}

/// <summary>One IDX file (the MNIST container format), unsigned bytes only: dimensions and raw data.</summary>
public sealed record IdxFile(string Path, int[] Dimensions, byte[] Data)
{
    /// <summary>Magic of an unsigned-byte IDX file: 0x00 0x00 0x08 then the number of dimensions.</summary>
    public const int UnsignedByteType = 0x08;

    /// <summary>Reads a raw or gzip-compressed IDX file and validates magic, dimensions and length.</summary>
    public static IdxFile Read(string path, int expectedRank)
    {
        if (!File.Exists(path)) throw new DatasetException($"{path}: file not found");
        byte[] bytes;
        try
        {
            using var file = File.OpenRead(path);
            var gz = file.Length >= 2 && file.ReadByte() == 0x1f && file.ReadByte() == 0x8b;
            file.Position = 0;
            using Stream source = gz ? new GZipStream(file, CompressionMode.Decompress) : file;
            using var buffer = new MemoryStream();
            source.CopyTo(buffer);
            bytes = buffer.ToArray();
        }
        catch (InvalidDataException e)
        {
            throw new DatasetException($"{path}: corrupt gzip stream ({e.Message})", e);
        }
        catch (IOException e)
        {
            throw new DatasetException($"{path}: cannot read ({e.Message})", e);
        }
        return Parse(path, bytes, expectedRank);
    }

    /// <summary>Parses IDX bytes; <paramref name="path"/> only names the source in errors.</summary>
    public static IdxFile Parse(string path, ReadOnlySpan<byte> bytes, int expectedRank)
    {
        if (bytes.Length < 4) throw new DatasetException($"{path}: truncated file ({bytes.Length} bytes, no IDX header)");
        if (bytes[0] != 0 || bytes[1] != 0 || bytes[2] != UnsignedByteType)
            throw new DatasetException(
                $"{path}: wrong magic number 0x{BinaryPrimitives.ReadUInt32BigEndian(bytes):X8} (expected 0x0000080{expectedRank}, an unsigned-byte IDX file)");
        int rank = bytes[3];
        if (rank != expectedRank)
            throw new DatasetException($"{path}: has {rank} dimensions, expected {expectedRank}");
        var headerLength = 4 + 4 * rank;
        if (bytes.Length < headerLength) throw new DatasetException($"{path}: truncated file (header needs {headerLength} bytes, file has {bytes.Length})");
        var dims = new int[rank];
        long expected = 1;
        for (var i = 0; i < rank; i++)
        {
            var d = BinaryPrimitives.ReadInt32BigEndian(bytes[(4 + 4 * i)..]);
            if (d <= 0) throw new DatasetException($"{path}: dimension {i} is {d}, must be positive");
            dims[i] = d;
            expected *= d;
        }
        var payload = bytes.Length - headerLength;
        if (payload < expected)
            throw new DatasetException($"{path}: truncated file (dimensions {string.Join("x", dims)} need {expected} data bytes, found {payload})");
        if (payload > expected)
            throw new DatasetException($"{path}: {payload - expected} unexpected bytes after the data of dimensions {string.Join("x", dims)}");
        return new IdxFile(path, dims, bytes[headerLength..].ToArray());
    }

    /// <summary>Writes an unsigned-byte IDX file (optionally gzip-compressed); used by tests and tools.</summary>
    public static void Write(string path, int[] dimensions, byte[] data, bool gzip)
    {
        using var file = File.Create(path);
        using Stream target = gzip ? new GZipStream(file, CompressionLevel.Fastest) : file;
        Span<byte> header = stackalloc byte[4 + 4 * dimensions.Length];
        header[2] = UnsignedByteType;
        header[3] = (byte)dimensions.Length;
        for (var i = 0; i < dimensions.Length; i++) BinaryPrimitives.WriteInt32BigEndian(header[(4 + 4 * i)..], dimensions[i]);
        target.Write(header);
        target.Write(data);
    }
}
