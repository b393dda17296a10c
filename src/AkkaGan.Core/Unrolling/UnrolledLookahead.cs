using AkkaGan.Core.Losses;
using AkkaGan.Core.Models;
using AkkaGan.Core.Optim;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Tensors;
using static TorchSharp.torch;

namespace AkkaGan.Core.Unrolling;

/// <summary>
/// The unrolled discriminator lookahead of Metz et al. (2017), evaluated on the discriminator's side: clone the
/// weights into a functional copy, take K optimizer steps (same optimizer, moments and hyper-parameters as the real
/// one) on fresh real batches and on the generator's fake batch, then return dL_G/dx_fake of the generator loss under
/// the unrolled weights. With <see cref="UnrollOrder.Second"/> the gradient also flows through the K updates (their
/// dependence on x_fake); with <see cref="UnrollOrder.First"/> it does not. The real weights are never touched.
/// The lookahead's discriminator loss includes the L2 penalty and weight clipping but not the gradient penalties
/// (second-order unrolling through GP/R1 would need third derivatives) nor instance noise.
/// </summary>
public static class UnrolledLookahead
{
    /// <param name="network">The discriminator (its <see cref="DiscriminatorNetwork.Functional"/> is used).</param>
    /// <param name="optimizer">The real optimizer: its kind, hyper-parameters and current moments seed the lookahead.</param>
    /// <param name="loss">The GAN loss pair.</param>
    /// <param name="fake">x_fake as a leaf that requires grad (B, ...).</param>
    /// <param name="realBatch">Real batch for unroll step k (0-based); drawn from the discriminator's seeded stream.</param>
    /// <param name="steps">K; 0 gives the plain generator gradient.</param>
    /// <param name="order">First or second order.</param>
    /// <param name="l2Penalty">L2 weight penalty coefficient (0 = off).</param>
    /// <param name="clipValue">Weight clipping bound (0 = off).</param>
    /// <param name="finalInput">Maps x_fake to the input of the final evaluation (e.g. adds instance noise).</param>
    /// <returns>The generator loss under the unrolled weights and dL_G/dx_fake (detached).</returns>
    public static (double Loss, Tensor Gradient) Run(DiscriminatorNetwork network, ExplicitOptimizer optimizer, IGanLoss loss,
        Tensor fake, Func<int, Tensor> realBatch, int steps, UnrollOrder order, double l2Penalty = 0, double clipValue = 0,
        Func<Tensor, Tensor>? finalInput = null)
    {
        if (!fake.requires_grad) throw new ArgumentException("x_fake must be a leaf that requires grad", nameof(fake));
        var second = order == UnrollOrder.Second;
        IReadOnlyList<Tensor> weights = network.OrderedParameters;
        if (steps > 0)
        {
            weights = network.OrderedParameters.Select(p => p.detach().clone().requires_grad_(true)).ToArray();
            var state = optimizer.StartFunctional();
            for (var k = 0; k < steps; k++)
            {
                var real = realBatch(k);
                var fakeInput = second ? fake : fake.detach();
                // One forward over [real; fake] instead of two: half the kernel launches of the double-backward graph.
                var logits = network.Functional(cat([real, fakeInput]), weights);                       // (Nr + Nf)
                var realLogits = (int)real.shape[0] / network.Pack;                                       // packs of real samples come first
                var lossD = loss.DiscriminatorLoss(logits[..realLogits], logits[realLogits..]);
                if (l2Penalty > 0) lossD = lossD.Plus(weights.Select(w => w.Square().sum()).Aggregate((a, b) => a.Plus(b)).Mul(l2Penalty));
                var gradients = autograd.grad([lossD], [.. weights], create_graph: second, retain_graph: second);
                if (second)
                {
                    (var next, state) = optimizer.FunctionalStep(weights, [.. gradients], state);
                    weights = clipValue > 0 ? next.Select(w => w.Clamp(-clipValue, clipValue)).ToArray() : next;
                }
                else
                {
                    using var noGrad = no_grad();
                    (var next, state) = optimizer.FunctionalStep(weights, [.. gradients], state);
                    weights = next.Select(w => (clipValue > 0 ? w.Clamp(-clipValue, clipValue) : w).detach().requires_grad_(true)).ToArray();
                }
            }
        }
        var input = finalInput is null ? fake : finalInput(fake);
        var lossG = loss.GeneratorLoss(network.Functional(input, weights));
        var gradient = autograd.grad([lossG], [fake])[0];
        return (lossG.AsDouble(), gradient.detach());
    }
}
