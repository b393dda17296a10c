using System.Buffers.Binary;
using System.IO.Compression;

namespace AkkaGan.Integration.Tests;

/// <summary>Writes gzip-compressed unsigned-byte IDX files (the MNIST layout) for test fixtures.</summary>
internal static class IdxWriter
{
    public static void Write(string path, int[] dimensions, byte[] data)
    {
        using var file = File.Create(path);
        using var gzip = new GZipStream(file, CompressionLevel.Fastest);
        var header = new byte[4 + 4 * dimensions.Length];
        header[2] = 0x08;
        header[3] = (byte)dimensions.Length;
        for (var i = 0; i < dimensions.Length; i++) BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4 + 4 * i), dimensions[i]);
        gzip.Write(header);
        gzip.Write(data);
    }

    /// <summary>A tiny MNIST-layout dataset in <paramref name="folder"/> (gzip IDX, 64 random images; written once), so no test needs a download.</summary>
    public static string TinyDataset(string folder)
    {
        if (Directory.Exists(folder)) return folder;
        Directory.CreateDirectory(folder);
        var random = new Random(1);
        var pixels = new byte[64 * 28 * 28];
        random.NextBytes(pixels);
        Write(Path.Combine(folder, "train-images-idx3-ubyte.gz"), [64, 28, 28], pixels);
        Write(Path.Combine(folder, "train-labels-idx1-ubyte.gz"), [64], [.. Enumerable.Range(0, 64).Select(i => (byte)(i % 10))]);
        return folder;
    }
}

/// <summary>Reads the first items of a (gzip) IDX file, to make small fixtures from the real dataset.</summary>
internal static class IdxReader
{
    /// <summary>Dimensions (first one cut to <paramref name="count"/>) and the bytes of the first <paramref name="count"/> items.</summary>
    public static (int[] Dimensions, byte[] Data) Head(string path, int count)
    {
        using var file = File.OpenRead(path);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var buffer = new MemoryStream();
        gzip.CopyTo(buffer);
        var bytes = buffer.ToArray();
        var rank = bytes[3];
        var dims = Enumerable.Range(0, rank).Select(i => BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(4 + 4 * i))).ToArray();
        var itemSize = dims.Skip(1).Aggregate(1, (a, b) => a * b);
        dims[0] = Math.Min(count, dims[0]);
        return (dims, bytes.AsSpan(4 + 4 * rank, dims[0] * itemSize).ToArray());
    }
}
