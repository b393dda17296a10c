using System.Reflection;
using AkkaGan.Core.Tensors;
using TorchSharp;
using static TorchSharp.torch;

namespace AkkaGan.Core.Tests;

/// <summary>
/// TorchSharp 0.107 may finalize an implicitly made <see cref="Scalar"/> while the native call that reads it runs
/// (<see cref="ScalarOps"/>): AkkaGan's own tensor code makes every Scalar through ScalarOps, which keeps it alive, and
/// steps with its own optimizer rather than TorchSharp's.
/// </summary>
public sealed class ScalarLifetimeSpecs
{
    private static readonly Type[] Numbers = [typeof(double), typeof(float), typeof(int), typeof(long)];

    /// <summary>Calls that make a Scalar the caller does not hold: conversions, tensor-number operators, and the methods that convert inside.</summary>
    private static bool MakesAnUnheldScalar(MethodBase target)
    {
        if (target.DeclaringType?.Assembly != typeof(Scalar).Assembly) return false;
        if (target.DeclaringType == typeof(Scalar) && target.Name == "op_Implicit") return true;
        if (target.DeclaringType == typeof(Tensor) && target.Name.StartsWith("op_", StringComparison.Ordinal)
            && target.GetParameters().Any(p => Numbers.Contains(p.ParameterType))) return true;
        // TorchSharp's optimizers make Scalars of their rates and moments inside every step (a grid25 rejection-sampling
        // fit crashed in Adam.step); the project's ExplicitOptimizer does the same steps through ScalarOps.
        if (target.DeclaringType == typeof(torch.optim) || typeof(torch.optim.Optimizer).IsAssignableFrom(target.DeclaringType)) return true;
        return target.Name is "square" or "softplus"
               || (target.Name is "leaky_relu" && target.GetParameters().Any(p => p.ParameterType == typeof(double)));
    }

    [Fact]
    public void Core_should_make_scalars_only_through_ScalarOps()
    {
        var assembly = typeof(ScalarOps).Assembly;
        var module = assembly.ManifestModule;
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        var offenders = new List<string>();
        foreach (var type in assembly.GetTypes().Where(t => t != typeof(ScalarOps)))
        {
            foreach (var method in type.GetMethods(all).Cast<MethodBase>().Concat(type.GetConstructors(all)))
            {
                var il = method.GetMethodBody()?.GetILAsByteArray();
                if (il is null) continue;
                // call, callvirt and newobj take a 4-byte token; member references (0x0A) are the calls into TorchSharp.
                for (var i = 0; i + 4 < il.Length; i++)
                {
                    if (il[i] is not (0x28 or 0x6F or 0x73)) continue;
                    var token = BitConverter.ToInt32(il, i + 1);
                    if (token >> 24 != 0x0A) continue;
                    MethodBase? target;
                    try
                    {
                        target = module.ResolveMethod(token);
                    }
                    catch (ArgumentException)
                    {
                        continue; // the bytes were an operand, not an opcode
                    }
                    if (target is not null && MakesAnUnheldScalar(target))
                        offenders.Add($"{type.FullName}.{method.Name} calls {target.DeclaringType!.Name}.{target.Name}({string.Join(", ", target.GetParameters().Select(p => p.ParameterType.Name))})");
                }
            }
        }
        Assert.True(offenders.Count == 0, "use ScalarOps (ExplicitOptimizer for an optimizer) instead:\n" + string.Join("\n", offenders.Distinct()));
    }

    /// <summary>Bit for bit the same values.</summary>
    private static void Same(Tensor actual, Tensor expected)
        => Assert.Equal(expected.to_type(ScalarType.Float32).data<float>().ToArray(), actual.to_type(ScalarType.Float32).data<float>().ToArray());

    [Fact]
    public void ScalarOps_should_compute_what_the_operators_compute()
    {
        using var scope = NewDisposeScope();
        var t = tensor(new[] { -1.5f, 0f, 2.25f, 7f });
        Same(t.Mul(0.5), t * 0.5);
        Same(t.Mul(3), t * 3);
        Same(t.Add(1.0), t + 1.0);
        Same(t.SubtractedFrom(1), 1 - t);
        Same(t.Sub(1), t - 1);
        Same(t.Div(2.0), t / 2.0);
        Same(t.Square(), t.square());
        Same(t.ClampMin(0.0), t.clamp_min(0.0));
        Same(t.Clamp(-1.0, 1.0), t.clamp(-1.0, 1.0));
        Same(t.LeakyRelu(0.2), nn.functional.leaky_relu(t, 0.2));
        Same(t.Greater(0), t.gt(0));
        // Softplus as -logsigmoid(-t): the same function, to float round-off.
        Assert.True(t.Softplus().allclose(nn.functional.softplus(t), rtol: 1e-6, atol: 1e-6));
        var big = tensor(new[] { 80f, -80f });
        var far = big.Softplus().data<float>().ToArray();
        Assert.Equal(80f, far[0]);                // no overflow in exp
        Assert.InRange(far[1], 0f, 1e-30f);       // log(1 + e^-80)
    }
}
