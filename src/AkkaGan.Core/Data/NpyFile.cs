using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace AkkaGan.Core.Data;

/// <summary>
/// NumPy's <c>.npy</c> format (version 1.0 written; 1.0-3.0 read): float32 written, little-endian float32 or float64
/// read, C order. What <c>akkagan sample</c> writes and <c>--latent</c> reads, so the files open with
/// <c>numpy.load</c>. A file that is not one of these is a <see cref="DatasetException"/> naming it and what is wrong.
/// </summary>
public static partial class NpyFile
{
    private static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Writes <paramref name="values"/> (row-major) as a float32 array of <paramref name="shape"/>.</summary>
    public static void Write(string path, ReadOnlySpan<float> values, IReadOnlyList<long> shape)
    {
        var count = shape.Aggregate(1L, (a, b) => a * b);
        if (count != values.Length) throw new ArgumentException($"{values.Length} values do not fill the shape ({string.Join(", ", shape)})");
        var dims = shape.Count == 1 ? $"{shape[0]}," : string.Join(", ", shape);
        var header = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({dims}), }}";
        // Magic, version, header length, header padded with spaces and ended by a newline to a multiple of 64 bytes.
        var unpadded = Magic.Length + 2 + 2 + header.Length + 1;
        header = header.PadRight(header.Length + (64 - unpadded % 64) % 64) + "\n";
        using var stream = File.Create(path);
        stream.Write(Magic);
        stream.Write([1, 0]);
        Span<byte> length = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(length, (ushort)header.Length);
        stream.Write(length);
        stream.Write(Encoding.ASCII.GetBytes(header));
        var bytes = new byte[values.Length * sizeof(float)];
        for (var i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        stream.Write(bytes);
    }

    /// <summary>The array in <paramref name="path"/> as float32 values and its shape.</summary>
    public static (float[] Values, long[] Shape) Read(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DatasetException($"{path}: cannot be read ({e.Message})");
        }
        if (bytes.Length < 10 || !bytes.AsSpan(0, 6).SequenceEqual(Magic))
            throw new DatasetException($"{path}: not a .npy file (it does not start with \\x93NUMPY)");
        var major = bytes[6];
        var (headerLength, offset) = major switch
        {
            1 => (BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8)), 10),
            2 or 3 when bytes.Length >= 12 => ((int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8)), 12),
            _ => throw new DatasetException($"{path}: .npy format version {major} is not supported (1, 2 and 3 are)"),
        };
        if (offset + headerLength > bytes.Length) throw new DatasetException($"{path}: truncated .npy header");
        var header = Encoding.UTF8.GetString(bytes, offset, headerLength);
        var descr = DescrPattern().Match(header);
        var fortran = FortranPattern().Match(header);
        var shapeMatch = ShapePattern().Match(header);
        if (!descr.Success || !fortran.Success || !shapeMatch.Success) throw new DatasetException($"{path}: unreadable .npy header '{header.Trim()}'");
        if (fortran.Groups[1].Value == "True") throw new DatasetException($"{path}: a Fortran-order array; save it in C order (numpy.ascontiguousarray)");
        var size = descr.Groups[1].Value switch
        {
            "<f4" or "=f4" or "f4" => 4,
            "<f8" or "=f8" or "f8" => 8,
            var other => throw new DatasetException($"{path}: dtype '{other}' is not supported (float32 or float64, little-endian)"),
        };
        long[] shape;
        try
        {
            shape = [.. shapeMatch.Groups[1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(d => long.Parse(d.TrimEnd('L'), CultureInfo.InvariantCulture))];
        }
        catch (FormatException)
        {
            throw new DatasetException($"{path}: unreadable shape ({shapeMatch.Groups[1].Value})");
        }
        var count = shape.Aggregate(1L, (a, b) => a * b);
        var dataOffset = offset + headerLength;
        if (bytes.Length - dataOffset != count * size)
            throw new DatasetException($"{path}: the shape ({string.Join(", ", shape)}) needs {count * size} bytes of data, the file has {bytes.Length - dataOffset}");
        var values = new float[count];
        for (var i = 0; i < count; i++)
            values[i] = size == 4
                ? BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(dataOffset + i * 4))
                : (float)BinaryPrimitives.ReadDoubleLittleEndian(bytes.AsSpan(dataOffset + i * 8));
        return (values, shape);
    }

    [GeneratedRegex(@"'descr'\s*:\s*'([^']*)'")]
    private static partial Regex DescrPattern();

    [GeneratedRegex(@"'fortran_order'\s*:\s*(True|False)")]
    private static partial Regex FortranPattern();

    [GeneratedRegex(@"'shape'\s*:\s*\(([^)]*)\)")]
    private static partial Regex ShapePattern();
}
