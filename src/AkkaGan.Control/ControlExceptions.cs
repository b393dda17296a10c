namespace AkkaGan.Control;

/// <summary>A frame broke the wire protocol (bad length, truncation, bad UTF-8/JSON, unknown type, missing field).</summary>
public sealed class ControlProtocolException : Exception
{
    public ControlProtocolException(string message) : base(message) { }
    public ControlProtocolException(string message, Exception inner) : base(message, inner) { }
    public ControlProtocolException() { }
}

/// <summary>A control host configuration that would expose commands without protection (non-loopback, no token).</summary>
public sealed class ControlSecurityException : Exception
{
    public ControlSecurityException(string message) : base(message) { }
    public ControlSecurityException(string message, Exception inner) : base(message, inner) { }
    public ControlSecurityException() { }
}

/// <summary>
/// Thrown by a palette for bad arguments or a refused command; the host answers <c>done{ok:false}</c> with its message.
/// </summary>
public sealed class ControlCommandException : Exception
{
    public ControlCommandException(string message) : base(message) { }
    public ControlCommandException(string message, Exception inner) : base(message, inner) { }
    public ControlCommandException() { }
}

/// <summary>The client could not reach the control host, or lost the connection mid-request.</summary>
public sealed class ControlConnectionException : Exception
{
    public ControlConnectionException(string message) : base(message) { }
    public ControlConnectionException(string message, Exception inner) : base(message, inner) { }
    public ControlConnectionException() { }
}
