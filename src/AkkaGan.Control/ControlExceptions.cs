namespace AkkaGan.Control;

/// <summary>A frame broke the wire protocol (bad length, truncation, bad UTF-8/JSON, unknown type, missing field).</summary>
public sealed class ControlProtocolException : Exception
{
    /// <summary>Creates the exception with <paramref name="message"/>, which names the problem.</summary>
    public ControlProtocolException(string message) : base(message) { }
    /// <summary>Creates the exception with <paramref name="message"/> and the exception that caused it.</summary>
    public ControlProtocolException(string message, Exception inner) : base(message, inner) { }
    /// <summary>Creates the exception with the default message.</summary>
    public ControlProtocolException() { }
}

/// <summary>A control host configuration that would expose commands without protection (non-loopback, no token).</summary>
public sealed class ControlSecurityException : Exception
{
    /// <summary>Creates the exception with <paramref name="message"/>, which names the problem.</summary>
    public ControlSecurityException(string message) : base(message) { }
    /// <summary>Creates the exception with <paramref name="message"/> and the exception that caused it.</summary>
    public ControlSecurityException(string message, Exception inner) : base(message, inner) { }
    /// <summary>Creates the exception with the default message.</summary>
    public ControlSecurityException() { }
}

/// <summary>
/// Thrown by a palette for bad arguments or a refused command; the host answers <c>done{ok:false}</c> with its message.
/// </summary>
public sealed class ControlCommandException : Exception
{
    /// <summary>Creates the exception with <paramref name="message"/>, which names the problem.</summary>
    public ControlCommandException(string message) : base(message) { }
    /// <summary>Creates the exception with <paramref name="message"/> and the exception that caused it.</summary>
    public ControlCommandException(string message, Exception inner) : base(message, inner) { }
    /// <summary>Creates the exception with the default message.</summary>
    public ControlCommandException() { }
}

/// <summary>The client could not reach the control host, or lost the connection mid-request.</summary>
public sealed class ControlConnectionException : Exception
{
    /// <summary>Creates the exception with <paramref name="message"/>, which names the problem.</summary>
    public ControlConnectionException(string message) : base(message) { }
    /// <summary>
    /// Creates the exception with <paramref name="message"/>; <paramref name="requestUnread"/> says the host closed the
    /// connection without reading the request (see <see cref="RequestUnread"/>).
    /// </summary>
    public ControlConnectionException(string message, bool requestUnread) : base(message) => RequestUnread = requestUnread;

    /// <summary>
    /// True when the host closed the connection before it read the request (it was idle past the host's limit, the
    /// host is full, or a frame broke the protocol): sending the request again on a new connection cannot apply it twice.
    /// </summary>
    public bool RequestUnread { get; }
    /// <summary>Creates the exception with <paramref name="message"/> and the exception that caused it.</summary>
    public ControlConnectionException(string message, Exception inner) : base(message, inner) { }
    /// <summary>Creates the exception with the default message.</summary>
    public ControlConnectionException() { }
}
