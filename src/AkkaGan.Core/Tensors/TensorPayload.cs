using System.Runtime.Serialization;
using AkkaGan.Core.Settings;
using TorchSharp;
using static TorchSharp.torch;

namespace AkkaGan.Core.Tensors;

/// <summary>The element types a <see cref="TensorPayload"/> may carry; values are the wire codes.</summary>
public enum WireDType : byte
{
    /// <summary>32-bit IEEE float.</summary>
    Float32 = 1,
    /// <summary>64-bit IEEE float.</summary>
    Float64 = 2,
    /// <summary>16-bit IEEE half.</summary>
    Float16 = 3,
    /// <summary>bfloat16.</summary>
    BFloat16 = 4,
    /// <summary>64-bit signed integer (labels, counts).</summary>
    Int64 = 5,
}

/// <summary>
/// A tensor as it crosses a process boundary (DESIGN.md section 4): element type, shape and the little-endian bytes
/// of the contiguous data. Built and decoded only by <see cref="TensorCodec"/>, which validates everything.
/// </summary>
public sealed record TensorPayload(WireDType DType, long[] Shape, byte[] Data)
{
    /// <summary>The number of elements, the product of the shape.</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
}

/// <summary>
/// Tensor &lt;-&gt; <see cref="TensorPayload"/> &lt;-&gt; bytes. Decoding checks the dtype code, the rank, every dimension,
/// that shape product x element size equals the byte count, and a size limit; violations throw
/// <see cref="SerializationException"/> with a message that names the problem.
/// </summary>
public static class TensorCodec
{
    /// <summary>Default upper bound on one payload's data (256 MiB).</summary>
    public const long DefaultMaxBytes = 256L << 20;
    /// <summary>The most dimensions a payload may have.</summary>
    public const int MaxRank = 8;

    /// <summary>Bytes per element of <paramref name="dtype"/>.</summary>
    public static int ElementSize(WireDType dtype) => dtype switch
    {
        WireDType.Float32 => 4,
        WireDType.Float64 => 8,
        WireDType.Float16 => 2,
        WireDType.BFloat16 => 2,
        WireDType.Int64 => 8,
        _ => throw new SerializationException($"tensor payload: unknown dtype code {(byte)dtype}"),
    };

    /// <summary>
    /// Copies a tensor (any device) into a payload. <paramref name="wire"/> optionally narrows floating-point data to
    /// float16/bfloat16 on the wire; the receiver gets that dtype (convert back with <see cref="ToTensor"/>'s target).
    /// </summary>
    public static TensorPayload ToPayload(Tensor tensor, WireDType? wire = null)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("the tensor wire format is little-endian");
        using var scope = NewDisposeScope();
        var dtype = wire ?? FromScalarType(tensor.dtype);
        var cpu = tensor.detach().to(ToScalarType(dtype)).cpu().contiguous();
        return new TensorPayload(dtype, [.. cpu.shape], cpu.bytes.ToArray());
    }

    /// <summary>The payload element type a round's tensors take under <paramref name="format"/>; null for float32 (the tensor's own).</summary>
    public static WireDType? Narrowing(WireFormat format) => format switch
    {
        WireFormat.Float16 => WireDType.Float16,
        WireFormat.Bfloat16 => WireDType.BFloat16,
        _ => null,
    };

    /// <summary>
    /// A round's tensor as the receiving side computes with it after the wire in <paramref name="format"/>: the tensor
    /// itself for float32, else rounded to float16/bfloat16 and widened back (the reference engine rounds with this
    /// where the cluster engine sends, so the two stay equal for every format).
    /// </summary>
    public static Tensor ThroughWire(Tensor tensor, WireFormat format)
        => Narrowing(format) is { } narrow ? tensor.detach().to(ToScalarType(narrow)).to(tensor.dtype) : tensor;

    /// <summary>Validates a payload and builds a CPU tensor from it (optionally converted to <paramref name="target"/>).</summary>
    public static Tensor ToTensor(TensorPayload payload, ScalarType? target = null, long maxBytes = DefaultMaxBytes)
    {
        Validate(payload, maxBytes);
        using var scope = NewDisposeScope();
        var result = empty(payload.Shape, ToScalarType(payload.DType));
        if (payload.Data.Length > 0) result.bytes = payload.Data;
        if (target is { } t && t != result.dtype) result = result.to(t);
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>Throws <see cref="SerializationException"/> when the payload is inconsistent.</summary>
    public static void Validate(TensorPayload payload, long maxBytes = DefaultMaxBytes)
    {
        if (!Enum.IsDefined(payload.DType)) throw new SerializationException($"tensor payload: unknown dtype code {(byte)payload.DType}");
        if (payload.Shape is null) throw new SerializationException("tensor payload: missing shape");
        if (payload.Shape.Length > MaxRank) throw new SerializationException($"tensor payload: rank {payload.Shape.Length} exceeds the maximum of {MaxRank}");
        long count = 1;
        for (var i = 0; i < payload.Shape.Length; i++)
        {
            var d = payload.Shape[i];
            if (d < 0) throw new SerializationException($"tensor payload: dimension {i} is negative ({d})");
            count = d == 0 ? 0 : (count > maxBytes / d ? long.MaxValue : count * d);
        }
        var size = ElementSize(payload.DType);
        if (count > maxBytes / size)
            throw new SerializationException($"tensor payload: shape [{string.Join(", ", payload.Shape)}] exceeds the size limit of {maxBytes} bytes");
        var expected = count * size;
        if (payload.Data is null || payload.Data.LongLength != expected)
            throw new SerializationException(
                $"tensor payload: byte count mismatch, shape [{string.Join(", ", payload.Shape)}] of {payload.DType} needs {expected} bytes, got {payload.Data?.LongLength ?? 0}");
    }

    /// <summary>Binary layout: dtype (1 byte), rank (1 byte), dims (int64 LE each), byte count (int64 LE), bytes.</summary>
    public static void Write(BinaryWriter writer, TensorPayload payload)
    {
        writer.Write((byte)payload.DType);
        writer.Write((byte)payload.Shape.Length);
        foreach (var d in payload.Shape) writer.Write(d);
        writer.Write(payload.Data.LongLength);
        writer.Write(payload.Data);
    }

    /// <summary>Reads what <see cref="Write"/> wrote, validating before allocating.</summary>
    public static TensorPayload Read(BinaryReader reader, long maxBytes = DefaultMaxBytes)
    {
        try
        {
            var dtype = (WireDType)reader.ReadByte();
            if (!Enum.IsDefined(dtype)) throw new SerializationException($"tensor payload: unknown dtype code {(byte)dtype}");
            int rank = reader.ReadByte();
            if (rank > MaxRank) throw new SerializationException($"tensor payload: rank {rank} exceeds the maximum of {MaxRank}");
            var shape = new long[rank];
            for (var i = 0; i < rank; i++) shape[i] = reader.ReadInt64();
            var length = reader.ReadInt64();
            if (length < 0 || length > maxBytes)
                throw new SerializationException($"tensor payload: byte count {length} outside 0..{maxBytes}");
            var remaining = reader.BaseStream.CanSeek ? reader.BaseStream.Length - reader.BaseStream.Position : long.MaxValue;
            if (length > remaining) throw new SerializationException($"tensor payload: truncated, {length} data bytes announced, {remaining} left");
            // Read into an array that is not zeroed first (every byte of it is overwritten; a short read throws), a
            // released one of this length when the payload is large (PayloadPool).
            var data = PayloadPool.Rent((int)length);
            reader.BaseStream.ReadExactly(data);
            var payload = new TensorPayload(dtype, shape, data);
            Validate(payload, maxBytes);
            return payload;
        }
        catch (EndOfStreamException e)
        {
            throw new SerializationException("tensor payload: truncated", e);
        }
    }

    /// <summary>The payload's wire bytes: type, rank, shape and data.</summary>
    public static byte[] Encode(TensorPayload payload)
    {
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer)) Write(writer, payload);
        return buffer.ToArray();
    }

    /// <summary>
    /// A payload from <see cref="Encode"/>'s bytes, validated (type, rank, shape, length, at most <paramref name="maxBytes"/>); throws
    /// <see cref="System.Runtime.Serialization.SerializationException"/> naming what is wrong.
    /// </summary>
    public static TensorPayload Decode(byte[] bytes, long maxBytes = DefaultMaxBytes)
    {
        using var reader = new BinaryReader(new MemoryStream(bytes));
        var payload = Read(reader, maxBytes);
        if (reader.BaseStream.Position != bytes.Length)
            throw new SerializationException($"tensor payload: {bytes.Length - reader.BaseStream.Position} trailing bytes");
        return payload;
    }

    /// <summary>The wire code of a torch element type; throws for a type the wire does not carry.</summary>
    public static WireDType FromScalarType(ScalarType type) => type switch
    {
        ScalarType.Float32 => WireDType.Float32,
        ScalarType.Float64 => WireDType.Float64,
        ScalarType.Float16 => WireDType.Float16,
        ScalarType.BFloat16 => WireDType.BFloat16,
        ScalarType.Int64 => WireDType.Int64,
        _ => throw new SerializationException($"tensor payload: dtype {type} cannot travel on the wire (float32, float64, float16, bfloat16, int64 can)"),
    };

    /// <summary>The torch element type of a wire code.</summary>
    public static ScalarType ToScalarType(WireDType type) => type switch
    {
        WireDType.Float32 => ScalarType.Float32,
        WireDType.Float64 => ScalarType.Float64,
        WireDType.Float16 => ScalarType.Float16,
        WireDType.BFloat16 => ScalarType.BFloat16,
        WireDType.Int64 => ScalarType.Int64,
        _ => throw new SerializationException($"tensor payload: unknown dtype code {(byte)type}"),
    };
}
