using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace AkkaGan.Core.Data;

/// <summary>
/// NumPy's <c>.npy</c> format (version 1.0 written; 1.0-3.0 read): float32 or uint8 written, little-endian float32,
/// float64 or uint8 read, C order. What <c>akkagan sample</c> writes, <c>--latent</c> and <c>--data-file</c> read and the
/// image-folder cache keeps, so the files open with <c>numpy.load</c>. A file that is not one of these is a
/// <see cref="DatasetException"/> naming it and what is wrong.
/// </summary>
public static partial class NpyFile
{
    private static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Writes <paramref name="values"/> (row-major) as a float32 array of <paramref name="shape"/>.</summary>
    public static void Write(string path, ReadOnlySpan<float> values, IReadOnlyList<long> shape)
    {
        var bytes = new byte[values.Length * sizeof(float)];
        for (var i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        WriteRaw(path, "<f4", bytes, values.Length, shape);
    }

    /// <summary>Writes <paramref name="values"/> (row-major) as a uint8 array of <paramref name="shape"/>.</summary>
    public static void WriteBytes(string path, ReadOnlySpan<byte> values, IReadOnlyList<long> shape) => WriteRaw(path, "|u1", values, values.Length, shape);

    private static void WriteRaw(string path, string descr, ReadOnlySpan<byte> data, long count, IReadOnlyList<long> shape)
    {
        if (shape.Aggregate(1L, (a, b) => a * b) != count) throw new ArgumentException($"{count} values do not fill the shape ({string.Join(", ", shape)})");
        var dims = shape.Count == 1 ? $"{shape[0]}," : string.Join(", ", shape);
        var header = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': ({dims}), }}";
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
        stream.Write(data);
    }

    /// <summary>The shape of the array in <paramref name="path"/>, reading only its header.</summary>
    public static long[] ReadShape(string path)
    {
        using var stream = Open(path);
        return ReadHeader(path, stream).Shape;
    }

    /// <summary>The array in <paramref name="path"/> as float32 values and its shape.</summary>
    public static (float[] Values, long[] Shape) Read(string path)
    {
        using var stream = Open(path);
        var (size, shape, count) = ReadHeader(path, stream);
        if (size == 1) throw new DatasetException($"{path}: dtype uint8 where float32 or float64 is expected");
        var bytes = ReadData(path, stream, shape, count * size);
        var values = new float[count];
        for (var i = 0; i < count; i++)
            values[i] = size == 4
                ? BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(i * 4))
                : (float)BinaryPrimitives.ReadDoubleLittleEndian(bytes.AsSpan(i * 8));
        return (values, shape);
    }

    /// <summary>The uint8 array in <paramref name="path"/> and its shape.</summary>
    public static (byte[] Values, long[] Shape) ReadBytes(string path)
    {
        using var stream = Open(path);
        var (size, shape, count) = ReadHeader(path, stream);
        if (size != 1) throw new DatasetException($"{path}: dtype float where uint8 is expected");
        return (ReadData(path, stream, shape, count), shape);
    }

    /// <summary>
    /// Rows <paramref name="rows"/> (indices along the first axis, in the order given) of the uint8 array in
    /// <paramref name="path"/>, reading only those rows; the shape is the file's with <c>rows.Length</c> first.
    /// </summary>
    public static (byte[] Values, long[] Shape) ReadByteRows(string path, IReadOnlyList<long> rows)
    {
        var shape = ReadShape(path);
        if (shape.Length == 0) throw new DatasetException($"{path}: a scalar has no rows");
        var values = new byte[rows.Count * shape.Skip(1).Aggregate(1L, (a, b) => a * b)];
        return (values, ReadByteRows(path, rows, values));
    }

    /// <summary>
    /// <see cref="ReadByteRows(string, IReadOnlyList{long})"/> into <paramref name="target"/> (e.g. a tensor's memory, so
    /// that no second copy is made), which must hold exactly the rows; returns their shape.
    /// </summary>
    public static long[] ReadByteRows(string path, IReadOnlyList<long> rows, Span<byte> target)
    {
        using var stream = Open(path);
        var (size, shape, _) = ReadHeader(path, stream);
        if (size != 1) throw new DatasetException($"{path}: dtype float where uint8 is expected");
        if (shape.Length == 0) throw new DatasetException($"{path}: a scalar has no rows");
        var rowBytes = (int)shape.Skip(1).Aggregate(1L, (a, b) => a * b);
        if (target.Length != rows.Count * (long)rowBytes) throw new ArgumentException($"{target.Length} bytes do not hold {rows.Count} rows of {rowBytes}", nameof(target));
        var data = stream.Position;
        for (var i = 0; i < rows.Count; i++)
        {
            if (rows[i] < 0 || rows[i] >= shape[0]) throw new ArgumentOutOfRangeException(nameof(rows), rows[i], $"row outside 0..{shape[0] - 1}");
            stream.Position = data + rows[i] * rowBytes;
            stream.ReadExactly(target.Slice(i * rowBytes, rowBytes));
        }
        return [rows.Count, .. shape.Skip(1)];
    }

    private static FileStream Open(string path)
    {
        try
        {
            return File.OpenRead(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DatasetException($"{path}: cannot be read ({e.Message})");
        }
    }

    private static byte[] ReadData(string path, Stream stream, long[] shape, long length)
    {
        if (stream.Length - stream.Position != length)
            throw new DatasetException($"{path}: the shape ({string.Join(", ", shape)}) needs {length} bytes of data, the file has {stream.Length - stream.Position}");
        var bytes = new byte[length];
        stream.ReadExactly(bytes);
        return bytes;
    }

    /// <summary>Parses the header and leaves <paramref name="stream"/> at the first byte of data.</summary>
    private static (int Size, long[] Shape, long Count) ReadHeader(string path, Stream stream)
    {
        Span<byte> prefix = stackalloc byte[12];
        var read = stream.ReadAtLeast(prefix, prefix.Length, throwOnEndOfStream: false);
        if (read < 10 || !prefix[..6].SequenceEqual(Magic))
            throw new DatasetException($"{path}: not a .npy file (it does not start with \\x93NUMPY)");
        var major = prefix[6];
        var (headerLength, offset) = major switch
        {
            1 => (BinaryPrimitives.ReadUInt16LittleEndian(prefix[8..]), 10),
            2 or 3 when read >= 12 => ((int)BinaryPrimitives.ReadUInt32LittleEndian(prefix[8..]), 12),
            _ => throw new DatasetException($"{path}: .npy format version {major} is not supported (1, 2 and 3 are)"),
        };
        if (headerLength > 1 << 20 || offset + headerLength > stream.Length) throw new DatasetException($"{path}: truncated .npy header");
        stream.Position = offset;
        var headerBytes = new byte[headerLength];
        stream.ReadExactly(headerBytes);
        var header = Encoding.UTF8.GetString(headerBytes);
        var descr = DescrPattern().Match(header);
        var fortran = FortranPattern().Match(header);
        var shapeMatch = ShapePattern().Match(header);
        if (!descr.Success || !fortran.Success || !shapeMatch.Success) throw new DatasetException($"{path}: unreadable .npy header '{header.Trim()}'");
        if (fortran.Groups[1].Value == "True") throw new DatasetException($"{path}: a Fortran-order array; save it in C order (numpy.ascontiguousarray)");
        var size = descr.Groups[1].Value switch
        {
            "<f4" or "=f4" or "f4" => 4,
            "<f8" or "=f8" or "f8" => 8,
            "|u1" or "<u1" or "=u1" or "u1" => 1,
            var other => throw new DatasetException($"{path}: dtype '{other}' is not supported (float32 or float64, little-endian)"),
        };
        long[] shape;
        try
        {
            shape = [.. shapeMatch.Groups[1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(d => long.Parse(d.TrimEnd('L'), CultureInfo.InvariantCulture))];
        }
        catch (Exception e) when (e is FormatException or OverflowException)
        {
            throw new DatasetException($"{path}: unreadable shape ({shapeMatch.Groups[1].Value})");
        }
        if (shape.Any(d => d < 0)) throw new DatasetException($"{path}: unreadable shape ({shapeMatch.Groups[1].Value})");
        long count;
        try
        {
            count = shape.Aggregate(1L, (a, b) => checked(a * b));
        }
        catch (OverflowException)
        {
            throw new DatasetException($"{path}: the shape ({shapeMatch.Groups[1].Value}) is too large");
        }
        if (count * size != stream.Length - stream.Position)
            throw new DatasetException($"{path}: the shape ({string.Join(", ", shape)}) needs {count * size} bytes of data, the file has {stream.Length - stream.Position}");
        return (size, shape, count);
    }

    [GeneratedRegex(@"'descr'\s*:\s*'([^']*)'")]
    private static partial Regex DescrPattern();

    [GeneratedRegex(@"'fortran_order'\s*:\s*(True|False)")]
    private static partial Regex FortranPattern();

    [GeneratedRegex(@"'shape'\s*:\s*\(([^)]*)\)")]
    private static partial Regex ShapePattern();
}
