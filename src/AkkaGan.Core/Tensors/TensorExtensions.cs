using static TorchSharp.torch;

namespace AkkaGan.Core.Tensors;

/// <summary>Small conversions used across the engine.</summary>
public static class TensorExtensions
{
    /// <summary>The value of a one-element tensor of any floating dtype or device, as a double.</summary>
    public static double AsDouble(this Tensor tensor)
    {
        using var scope = NewDisposeScope();
        return tensor.detach().cpu().to_type(ScalarType.Float64).item<double>();
    }
}
