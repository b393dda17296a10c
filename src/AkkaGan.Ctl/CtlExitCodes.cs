namespace AkkaGan.Ctl;

/// <summary>The process exit codes of <c>akkagan-ctl</c>, as documented in docs/steering.md.</summary>
internal static class CtlExitCodes
{
    /// <summary>The command (or the interactive session) finished and the host answered ok.</summary>
    public const int Ok = 0;

    /// <summary>The host answered <c>done{ok:false}</c> (refused or failed command) or broke the protocol.</summary>
    public const int CommandFailed = 1;

    /// <summary>The command line itself is wrong: unknown flag, bad HOST:PORT, missing command.</summary>
    public const int Usage = 2;

    /// <summary>The control host could not be reached, or the connection was lost.</summary>
    public const int Unreachable = 3;

    /// <summary>Interrupted (Ctrl+C), as shells report SIGINT.</summary>
    public const int Cancelled = 130;
}
