namespace AkkaGan.Core.Tests;

/// <summary>
/// Specs that change torch's process-wide state (<c>set_num_threads</c>, as the evaluation classifier's training does
/// for its fixed recipe). xUnit runs this collection alone, after the parallel ones: a thread count changed under a
/// running spec would change its floats (another reduction order), and specs that compare two runs would disagree.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessWideTorchState
{
    public const string Name = "process-wide torch state";
}
