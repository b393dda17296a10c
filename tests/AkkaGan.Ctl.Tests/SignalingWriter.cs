namespace AkkaGan.Ctl.Tests;

/// <summary>A <see cref="StringWriter"/> that completes <see cref="Seen"/> once a given line is written.</summary>
internal sealed class SignalingWriter(string awaited) : StringWriter
{
    public TaskCompletionSource Seen { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public override void WriteLine(string? value)
    {
        base.WriteLine(value);
        if (value == awaited)
            Seen.TrySetResult();
    }
}
