using static TorchSharp.torch;

namespace AkkaGan.Core.Data;

/// <summary>A source of real samples that a discriminator draws from locally (data never crosses the wire).</summary>
public interface IRealData
{
    /// <summary>Shape of one sample, e.g. [2] or [1, 28, 28].</summary>
    long[] SampleShape { get; }

    /// <summary>Draws <paramref name="count"/> samples as a float32 CPU tensor of shape (count, ...SampleShape).</summary>
    Tensor Sample(int count, Generator generator);
}
