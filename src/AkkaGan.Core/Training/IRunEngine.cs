namespace AkkaGan.Core.Training;

/// <summary>
/// What an operator can ask of a training while it runs, whatever the engine (the control plane's <c>gan</c> palette
/// talks to this, never to an engine's insides). The reference engine's implementation is <see cref="RunControl"/>,
/// which its loop reads between steps; the cluster engine's forwards each request to the coordinator.
/// </summary>
public interface IRunEngine
{
    /// <summary>Whether the run is paused.</summary>
    bool IsPaused { get; }

    /// <summary>Finish the current round, then wait for <see cref="Resume"/> (or a stop).</summary>
    void Pause();

    /// <summary>Continue a paused run.</summary>
    void Resume();

    /// <summary>Write a checkpoint after the current round (also while paused).</summary>
    void RequestCheckpoint();

    /// <summary>A live change, applied after the current round (or at once while paused): the report of what was applied, or the reason it was refused.</summary>
    Task<ChangeReport> RequestChange(RunChange change);

    /// <summary>Samples from the generator as it is now.</summary>
    Task<SampleBatch> RequestSamples(int count);

    /// <summary>Stop after the current round: the run evaluates and checkpoints it, then ends (the same as Ctrl-C).</summary>
    void Stop();

    /// <summary>Cancelled once <see cref="Stop"/> was asked.</summary>
    CancellationToken Stopping { get; }
}
