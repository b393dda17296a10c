using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Unicode;

namespace AkkaGan.Control;

/// <summary>
/// Reads and writes <c>akkagan-control/1</c> frames: a 4-byte big-endian unsigned length N (1..maxBytes) followed by N
/// bytes of UTF-8 JSON, a camelCase object whose <c>"type"</c> is <c>hello</c>, <c>request</c>, <c>output</c> or
/// <c>done</c>. Anything else is a <see cref="ControlProtocolException"/> naming the problem; a clean end of stream
/// before a frame header reads as <c>null</c>. Conversation: the host sends <c>hello</c> on connect; per request the
/// client sends <c>request</c> and the host streams <c>output</c> lines and ends with one <c>done</c>. Full
/// description in PROTOCOL.md next to this file.
/// </summary>
public static class ControlFraming
{
    /// <summary>Default frame limit, 1 MiB; a hello with many palettes stays far below it.</summary>
    public const int DefaultMaxFrameBytes = 1024 * 1024;

    private const int HeaderBytes = 4;

    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        // A missing field or a null where the record says non-null is a protocol error, not a silent default.
        RespectRequiredConstructorParameters = true,
        RespectNullableAnnotations = true,
        Converters = { new JsonStringEnumConverter<ArgumentKind>(JsonNamingPolicy.CamelCase, allowIntegerValues: false) },
    };

    /// <summary>Reads one frame; <c>null</c> when the stream ends cleanly before a header.</summary>
    public static async Task<ControlMessage?> ReadFrameAsync(
        Stream stream, int maxBytes = DefaultMaxFrameBytes, CancellationToken ct = default)
    {
        var header = new byte[HeaderBytes];
        var got = await stream.ReadAtLeastAsync(header, HeaderBytes, throwOnEndOfStream: false, ct).ConfigureAwait(false);
        if (got == 0)
            return null;
        if (got < HeaderBytes)
            throw new ControlProtocolException($"truncated frame header: the stream ended after {got} of {HeaderBytes} bytes");
        var length = BinaryPrimitives.ReadUInt32BigEndian(header);
        if (length == 0)
            throw new ControlProtocolException("zero-length frame: a frame carries at least one byte of JSON");
        if (length > (uint)maxBytes)
            throw new ControlProtocolException($"frame of {length} bytes exceeds the {maxBytes}-byte limit");
        var body = new byte[length];
        got = await stream.ReadAtLeastAsync(body, body.Length, throwOnEndOfStream: false, ct).ConfigureAwait(false);
        if (got < body.Length)
            throw new ControlProtocolException($"truncated frame: the stream ended after {got} of {length} body bytes");
        return Decode(body);
    }

    /// <summary>Writes one frame under the default limit and flushes.</summary>
    public static Task WriteFrameAsync(Stream stream, ControlMessage message, CancellationToken ct = default) =>
        WriteFrameAsync(stream, message, DefaultMaxFrameBytes, ct);

    /// <summary>Writes one frame and flushes, so a streamed output line leaves at once.</summary>
    public static async Task WriteFrameAsync(Stream stream, ControlMessage message, int maxBytes, CancellationToken ct = default)
    {
        var body = Encode(message);
        if (body.Length > maxBytes)
            throw new ControlProtocolException($"frame of {body.Length} bytes exceeds the {maxBytes}-byte limit");
        var frame = new byte[HeaderBytes + body.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame, (uint)body.Length);
        body.CopyTo(frame.AsSpan(HeaderBytes));
        await stream.WriteAsync(frame, ct).ConfigureAwait(false);
        await stream.FlushAsync(ct).ConfigureAwait(false);
    }

    /// <summary>The JSON body of a message, <c>"type"</c> first.</summary>
    public static byte[] Encode(ControlMessage message)
    {
        var node = JsonSerializer.SerializeToNode(message, message.GetType(), Options)!.AsObject();
        node.Insert(0, "type", TypeName(message));
        return JsonSerializer.SerializeToUtf8Bytes(node, Options);
    }

    /// <summary>Parses a JSON body into its message, validating UTF-8, JSON, type and required fields.</summary>
    public static ControlMessage Decode(ReadOnlyMemory<byte> body)
    {
        if (!Utf8.IsValid(body.Span))
            throw new ControlProtocolException("frame body is not valid UTF-8");
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body);
        }
        catch (JsonException ex)
        {
            throw new ControlProtocolException($"frame body is not valid JSON: {ex.Message}", ex);
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new ControlProtocolException($"frame body is a JSON {root.ValueKind.ToString().ToLowerInvariant()}, not an object");
            if (!root.TryGetProperty("type", out var typeElement))
                throw new ControlProtocolException("frame has no \"type\"");
            if (typeElement.ValueKind != JsonValueKind.String)
                throw new ControlProtocolException("frame \"type\" is not a string");
            var name = typeElement.GetString()!;
            var type = name switch
            {
                "hello" => typeof(ControlMessages.Hello),
                "request" => typeof(ControlMessages.Request),
                "output" => typeof(ControlMessages.Output),
                "done" => typeof(ControlMessages.Done),
                _ => throw new ControlProtocolException($"unknown frame type '{name}' (expected hello, request, output or done)"),
            };
            ControlMessage message;
            try
            {
                message = (ControlMessage)root.Deserialize(type, Options)!;
            }
            catch (JsonException ex)
            {
                throw new ControlProtocolException($"invalid {name} frame: {ex.Message}", ex);
            }
            return Validate(name, message);
        }
    }

    private static ControlMessage Validate(string name, ControlMessage message)
    {
        // Nullable annotations are not enforced inside collections; a null there is still a protocol error.
        var nullInside = message switch
        {
            ControlMessages.Request r => r.Args.Any(a => a is null),
            ControlMessages.Hello h => h.Palettes.Any(p => p is null || p.Commands.Any(c => c is null || c.Arguments.Any(a => a is null))),
            _ => false,
        };
        if (nullInside)
            throw new ControlProtocolException($"invalid {name} frame: a list holds null");
        return message;
    }

    private static string TypeName(ControlMessage message) => message switch
    {
        ControlMessages.Hello => "hello",
        ControlMessages.Request => "request",
        ControlMessages.Output => "output",
        ControlMessages.Done => "done",
        _ => throw new ArgumentException($"{message.GetType().Name} is not a control protocol message", nameof(message)),
    };
}
