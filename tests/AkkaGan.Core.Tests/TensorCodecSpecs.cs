using System.Runtime.Serialization;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Tensors;
using static TorchSharp.torch;

namespace AkkaGan.Core.Tests;

public sealed class TensorCodecSpecs
{
    public static TheoryData<ScalarType> DTypes => new() { ScalarType.Float32, ScalarType.Float64, ScalarType.Float16, ScalarType.BFloat16, ScalarType.Int64 };

    [Theory]
    [MemberData(nameof(DTypes))]
    public void Tensors_should_round_trip_bit_exactly(ScalarType dtype)
    {
        using var original = (arange(24, float64) * 0.37 - 3).reshape(2, 3, 4).to_type(dtype);
        var bytes = TensorCodec.Encode(TensorCodec.ToPayload(original));
        using var decoded = TensorCodec.ToTensor(TensorCodec.Decode(bytes));
        Assert.Equal(dtype, decoded.dtype);
        Assert.Equal(original.shape, decoded.shape);
        Assert.True(original.equal(decoded).all().item<bool>());
    }

    [Fact]
    public void Scalars_and_empty_tensors_should_round_trip()
    {
        using var scalar = tensor(2.5f);
        using var empty = zeros(0, 3);
        Assert.Equal(2.5f, TensorCodec.ToTensor(TensorCodec.Decode(TensorCodec.Encode(TensorCodec.ToPayload(scalar)))).item<float>());
        Assert.Equal([0L, 3], TensorCodec.ToTensor(TensorCodec.Decode(TensorCodec.Encode(TensorCodec.ToPayload(empty)))).shape);
    }

    [Fact]
    public void Float32_may_travel_as_float16_on_the_wire()
    {
        using var original = tensor(new[] { 0.5f, -2f, 1024f });
        var payload = TensorCodec.ToPayload(original, WireDType.Float16);
        Assert.Equal(6, payload.Data.Length);
        using var back = TensorCodec.ToTensor(payload, ScalarType.Float32);
        Assert.True(original.equal(back).all().item<bool>());
    }

    [Fact]
    public void Decoding_should_reject_an_unknown_dtype()
    {
        var bytes = TensorCodec.Encode(TensorCodec.ToPayload(ones(2)));
        bytes[0] = 99;
        Assert.Contains("unknown dtype code 99", Assert.Throws<SerializationException>(() => TensorCodec.Decode(bytes)).Message);
    }

    [Fact]
    public void Decoding_should_reject_negative_dimensions()
    {
        var e = Assert.Throws<SerializationException>(() => TensorCodec.Validate(new TensorPayload(WireDType.Float32, [2, -3], new byte[24])));
        Assert.Contains("dimension 1 is negative", e.Message);
    }

    [Fact]
    public void Decoding_should_reject_a_byte_count_mismatch()
    {
        var e = Assert.Throws<SerializationException>(() => TensorCodec.ToTensor(new TensorPayload(WireDType.Float32, [2, 3], new byte[20])));
        Assert.Contains("needs 24 bytes, got 20", e.Message);
    }

    [Fact]
    public void Decoding_should_enforce_the_size_limit_before_allocating()
    {
        var e = Assert.Throws<SerializationException>(() => TensorCodec.Validate(new TensorPayload(WireDType.Float64, [1L << 40, 1L << 40], []), maxBytes: 1 << 20));
        Assert.Contains("size limit", e.Message);
        var bytes = TensorCodec.Encode(TensorCodec.ToPayload(ones(1000)));
        Assert.Throws<SerializationException>(() => TensorCodec.Decode(bytes, maxBytes: 100));
    }

    [Fact]
    public void Decoding_should_reject_truncated_and_padded_bytes()
    {
        var bytes = TensorCodec.Encode(TensorCodec.ToPayload(ones(10)));
        Assert.Contains("truncated", Assert.Throws<SerializationException>(() => TensorCodec.Decode(bytes[..^5])).Message);
        Assert.Contains("trailing", Assert.Throws<SerializationException>(() => TensorCodec.Decode([.. bytes, 0])).Message);
    }

    [Fact]
    public void Unsupported_dtypes_should_be_refused_when_encoding()
    {
        using var booleans = tensor(new[] { true, false });
        Assert.Contains("cannot travel", Assert.Throws<SerializationException>(() => TensorCodec.ToPayload(booleans)).Message);
    }

    [Theory]
    [InlineData(WireFormat.Float16, 2)]
    [InlineData(WireFormat.Bfloat16, 2)]
    public void A_narrow_wire_should_round_as_the_receiver_computes(WireFormat format, int bytesPerElement)
    {
        // 1/3 has no exact float16 or bfloat16 form: what the receiver decodes is rounded, and ThroughWire (the
        // reference engine's stand-in for the wire) gives the same bits.
        using var original = full(4, 1f / 3);
        var payload = TensorCodec.ToPayload(original, TensorCodec.Narrowing(format));
        Assert.Equal(4 * bytesPerElement, payload.Data.Length);
        using var received = TensorCodec.ToTensor(payload, ScalarType.Float32);
        using var simulated = TensorCodec.ThroughWire(original, format);
        Assert.Equal(ScalarType.Float32, simulated.dtype);
        Assert.False(original.equal(received).all().item<bool>());
        Assert.True(received.equal(simulated).all().item<bool>());
    }

    [Fact]
    public void A_float32_wire_should_leave_the_tensor_alone()
    {
        using var original = full(4, 1f / 3);
        Assert.Null(TensorCodec.Narrowing(WireFormat.Float32));
        Assert.Same(original, TensorCodec.ThroughWire(original, WireFormat.Float32));
    }
}
