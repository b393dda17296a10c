using AkkaGan.Core.Tensors;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace AkkaGan.Core.Models;

/// <summary>
/// Batch normalization of the features of (N, C) inputs or the channels of (N, C, H, W) inputs: TorchSharp's
/// <c>BatchNorm1d</c> / <c>BatchNorm2d</c> without their native hazard. TorchSharp 0.107's <c>BatchNorm.forward</c>
/// counts its batches with <c>num_batches_tracked.add_(1)</c>, an implicit <see cref="Scalar"/> that a garbage
/// collection can finalize while libtorch reads it (<see cref="ScalarOps"/>; a stacked-fashion-mnist run failed in it
/// with "Unknown scalar type"). Same parameters and buffers under the same names and in the same order (checkpoints and
/// exports are unchanged), same values (libtorch's batch_norm with the arguments TorchSharp passes), PyTorch's defaults
/// (momentum 0.1, eps 1e-5, affine, running statistics).
/// </summary>
public sealed class BatchNorm : nn.Module<Tensor, Tensor>
{
    private const double Momentum = 0.1;
    private const double Eps = 1e-5;

    // Names as TorchSharp's NormBase registers them: state_dict keys "<module>.weight", ..., "<module>.num_batches_tracked".
#pragma warning disable IDE1006 // TorchSharp's names
    private readonly Parameter weight;
    private readonly Parameter bias;
    private readonly Tensor running_mean;
    private readonly Tensor running_var;
    private readonly Tensor num_batches_tracked;
#pragma warning restore IDE1006

    private readonly int _dimensions;

    /// <summary>Normalizes <paramref name="features"/> features or channels of inputs with <paramref name="dimensions"/> axes (2: (N, C); 4: (N, C, H, W)).</summary>
    public BatchNorm(long features, int dimensions) : base(nameof(BatchNorm))
    {
        if (features < 1) throw new ArgumentOutOfRangeException(nameof(features), features, "at least one feature");
        if (dimensions is not (2 or 4)) throw new ArgumentOutOfRangeException(nameof(dimensions), dimensions, "2 (N, C) or 4 (N, C, H, W)");
        _dimensions = dimensions;
        weight = (Parameter)nn.Parameter(ones(features)).DetachFromDisposeScope(); // the module owns them (Dispose), not a caller's scope
        bias = (Parameter)nn.Parameter(zeros(features)).DetachFromDisposeScope();
        running_mean = zeros(features).DetachFromDisposeScope();
        running_var = ones(features).DetachFromDisposeScope();
        num_batches_tracked = tensor(0L).DetachFromDisposeScope();
        register_parameter(nameof(weight), weight);
        register_parameter(nameof(bias), bias);
        register_buffer(nameof(running_mean), running_mean);
        register_buffer(nameof(running_var), running_var);
        register_buffer(nameof(num_batches_tracked), num_batches_tracked);
    }

    /// <summary>In training, normalizes by the batch's statistics and updates the running ones; in evaluation, by the running ones.</summary>
    public override Tensor forward(Tensor input)
    {
        if (input.dim() != _dimensions)
            throw new ArgumentException($"BatchNorm expects {_dimensions}-D input, got shape [{string.Join(", ", input.shape)}]", nameof(input));
        if (training)
            num_batches_tracked.AddInPlace(1L); // in place: returns the buffer itself
        return nn.functional.batch_norm(input, running_mean, running_var, weight, bias, training, Momentum, Eps);
    }
}
