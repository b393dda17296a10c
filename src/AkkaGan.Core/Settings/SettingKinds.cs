namespace AkkaGan.Core.Settings;

/// <summary>Which real data a run trains on.</summary>
public enum DatasetKind
{
    /// <summary>8 Gaussians on a circle of radius 1, std 0.01 (2-D).</summary>
    Ring8,
    /// <summary>25 Gaussians on a 5x5 grid of spacing 2, std 0.05 (2-D).</summary>
    Grid25,
    /// <summary>12 Gaussians on a two-turn spiral of outer radius 2, std 0.02 (2-D).</summary>
    Spiral,
    /// <summary>Fashion-MNIST, 28x28 grayscale images of 10 classes, read from IDX files.</summary>
    FashionMnist,
    /// <summary>Three independently drawn Fashion-MNIST images stacked as the channels of one: 1000 modes.</summary>
    StackedFashionMnist,
    /// <summary>The user's points of any dimension from a .csv or .npy file (<c>data-file</c>).</summary>
    Points,
    /// <summary>The user's PNG and JPEG images in a folder (<c>data-dir</c>), center-cropped and scaled to <c>image-size</c>.</summary>
    Images,
}

/// <summary>The GAN objective, a symmetric discriminator/generator pair (see <see cref="Losses.GanLoss"/>).</summary>
public enum LossKind
{
    /// <summary>The original GAN objective: the generator minimises log(1 - D(G(z))).</summary>
    Minimax,
    /// <summary>The generator maximises log D(G(z)) instead, which keeps its gradient where the discriminator is confident.</summary>
    NonSaturating,
    /// <summary>The WGAN critic: real minus fake scores, unbounded (pair it with clipping or a gradient penalty).</summary>
    Wasserstein,
    /// <summary>Hinge loss for the discriminator (margin 1), the negated fake score for the generator.</summary>
    Hinge,
    /// <summary>LSGAN: squared distances of the scores to their targets (real 1 and fake 0 for the discriminator, fake 1 for the generator).</summary>
    LeastSquares,
}

/// <summary>How the generator combines the feedback of several discriminators.</summary>
public enum AggregationKind
{
    /// <summary>The mean of the members' gradients.</summary>
    Mean,
    /// <summary>GMAN: the members' feedback weighted by a softmax of lambda times each member's generator loss.</summary>
    Softmax,
    /// <summary>Only the feedback of the member with the highest generator loss.</summary>
    Max,
    /// <summary>A seeded random subset of subset-size members each round, averaged.</summary>
    Subset,
}

/// <summary>Whether the unrolled lookahead differentiates through its own updates.</summary>
public enum UnrollOrder
{
    /// <summary>The generator's gradient treats the K lookahead updates as constants (half the cost).</summary>
    First,
    /// <summary>The gradient flows through the K lookahead updates (double backward).</summary>
    Second,
}

/// <summary>Learning-rate schedule over the run.</summary>
public enum LrDecay
{
    /// <summary>Constant learning rates.</summary>
    None,
    /// <summary>Learning rates fall linearly from their base to lr-final times base at the last round.</summary>
    Linear,
}

/// <summary>The optimizer both networks (and the lookahead) use.</summary>
public enum OptimizerKind
{
    /// <summary>Adam with beta1, beta2 and epsilon 1e-8.</summary>
    Adam,
    /// <summary>Plain stochastic gradient descent.</summary>
    Sgd,
}

/// <summary>Where tensors live.</summary>
public enum DeviceKind
{
    /// <summary>CUDA when the build and the machine have it, else the CPU.</summary>
    Auto,
    /// <summary>The CPU.</summary>
    Cpu,
    /// <summary>The first CUDA device (needs the TorchBackend=cuda build).</summary>
    Cuda,
}

/// <summary>The element type a round's tensors (fake batches, x_fake, dL/dx_fake) cross the wire in; state and samples always travel as float32.</summary>
public enum WireFormat
{
    /// <summary>Lossless.</summary>
    Float32,
    /// <summary>IEEE half precision: half the bytes, rounded.</summary>
    Float16,
    /// <summary>bfloat16: half the bytes, float32's range, rounded.</summary>
    Bfloat16,
}

/// <summary>
/// Cluster engine: what the run does when a discriminator misses a round. <see cref="Fast"/>: the others train on and
/// the member is restored from its freshest kept state (it loses what it learned since). <see cref="Exact"/>: every
/// entity rolls back to the last checkpoint and the rounds since are replayed, so the result equals an uninterrupted run's.
/// </summary>
public enum RecoveryMode
{
    /// <summary>The others train on; the member is restored alone.</summary>
    Fast,
    /// <summary>Every entity rolls back to the last checkpoint and replays.</summary>
    Exact,
}
