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
}
