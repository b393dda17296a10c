using AkkaGan.Core.Tensors;
using static TorchSharp.torch;

namespace AkkaGan.Core.Tests;

/// <summary>
/// The arrays of large payloads read off the wire are lent again once released, and only those, once each. Every
/// spec uses a length of its own: the pool is process-wide and specs run in parallel.
/// </summary>
public sealed class PayloadPoolSpecs
{
    private static TensorPayload Received(int elements, float start)
    {
        using var tensor = arange(start, start + elements, float32);
        return TensorCodec.Decode(TensorCodec.Encode(TensorCodec.ToPayload(tensor)));
    }

    private static float[] Values(TensorPayload payload)
    {
        using var tensor = TensorCodec.ToTensor(payload);
        return tensor.data<float>().ToArray();
    }

    [Fact]
    public void A_released_payload_should_lend_its_array_to_the_next_one_of_its_length()
    {
        const int elements = (PayloadPool.MinLength / 4) + 101;
        var first = Received(elements, 0);
        PayloadPool.Release(first);
        var second = Received(elements, 1000);
        Assert.Same(first.Data, second.Data);
        Assert.Equal(1000f, Values(second)[0]);
        Assert.Equal(1000f + elements - 1, Values(second)[^1]);
    }

    [Fact]
    public void A_payload_not_read_off_the_wire_should_never_be_lent()
    {
        const int elements = (PayloadPool.MinLength / 4) + 103;
        using var tensor = arange(0, elements, float32);
        var made = TensorCodec.ToPayload(tensor);
        PayloadPool.Release(made);
        var received = Received(elements, 5);
        Assert.NotSame(made.Data, received.Data);
        Assert.Equal(elements - 1f, Values(made)[^1]);
    }

    [Fact]
    public void A_payload_released_twice_should_be_lent_once()
    {
        const int elements = (PayloadPool.MinLength / 4) + 107;
        var first = Received(elements, 0);
        PayloadPool.Release(first);
        PayloadPool.Release(first);
        var second = Received(elements, 1);
        var third = Received(elements, 2);
        Assert.Same(first.Data, second.Data);
        Assert.NotSame(second.Data, third.Data);
        Assert.Equal(1f, Values(second)[0]);
        Assert.Equal(2f, Values(third)[0]);
    }

    [Fact]
    public void Small_payloads_should_be_allocated_as_before()
    {
        const int elements = 1000;
        var first = Received(elements, 0);
        PayloadPool.Release(first);
        Assert.NotSame(first.Data, Received(elements, 1).Data);
    }
}
