using System.Buffers.Binary;
using System.Text;
using static AkkaGan.Control.ControlMessages;

namespace AkkaGan.Control.Tests;

public sealed class ControlFramingSpecs
{
    private static readonly ControlMessage[] EveryType =
    [
        new Hello(Protocol, "node-1", [new EchoPalette().Descriptor]),
        new Request(7, "echo", "count", ["-n", "1000", "--out", "x.png"], "s3cret"),
        new Request(8, "echo", "say", [], null),
        new Output(7, "line ü"),
        new Done(7, true),
        new Done(8, false, "boom"),
    ];

    private static byte[] Frame(byte[] body, uint? length = null)
    {
        var frame = new byte[4 + body.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame, length ?? (uint)body.Length);
        body.CopyTo(frame, 4);
        return frame;
    }

    private static async Task<string> RejectionOf(byte[] bytes, int maxBytes = ControlFraming.DefaultMaxFrameBytes)
    {
        using var stream = new MemoryStream(bytes);
        var ex = await Assert.ThrowsAsync<ControlProtocolException>(() => ControlFraming.ReadFrameAsync(stream, maxBytes));
        return ex.Message;
    }

    [Fact]
    public async Task Framing_should_round_trip_every_message_type()
    {
        using var stream = new MemoryStream();
        foreach (var message in EveryType)
            await ControlFraming.WriteFrameAsync(stream, message, ct: TestContext.Current.CancellationToken);
        stream.Position = 0;
        foreach (var message in EveryType)
        {
            var read = await ControlFraming.ReadFrameAsync(stream, ct: TestContext.Current.CancellationToken);
            Assert.Equal(message.GetType(), read!.GetType());
            Assert.Equal(ControlFraming.Encode(message), ControlFraming.Encode(read));
        }
        Assert.Null(await ControlFraming.ReadFrameAsync(stream, ct: TestContext.Current.CancellationToken));
    }

    [Fact]
    public void Framing_should_write_camel_case_json_with_type_first()
    {
        var json = Encoding.UTF8.GetString(ControlFraming.Encode(EveryType[0]));
        Assert.StartsWith("{\"type\":\"hello\",\"protocol\":\"akkagan-control/1\",\"node\":\"node-1\"", json);
        Assert.Contains("\"required\":true,\"kind\":\"option\"", json);
        var request = (Request)ControlFraming.Decode(Encoding.UTF8.GetBytes(
            "{\"type\":\"request\",\"id\":3,\"token\":null,\"palette\":\"p\",\"command\":\"c\",\"args\":[\"a\"]}"));
        Assert.Equal((3, "p", "c", "a"), (request.Id, request.Palette, request.Command, request.Args.Single()));
    }

    [Fact]
    public async Task Framing_should_reject_bad_lengths_and_truncation()
    {
        Assert.Contains("zero-length frame", await RejectionOf(Frame([])));
        Assert.Contains("frame of 5000000 bytes exceeds the 1048576-byte limit", await RejectionOf(Frame([], 5_000_000)));
        Assert.Contains("truncated frame: the stream ended after 3 of 10 body bytes", await RejectionOf(Frame("{\"t"u8.ToArray(), 10)));
        Assert.Contains("truncated frame header", await RejectionOf([0, 0]));
    }

    [Theory]
    [InlineData(new byte[] { 0xC3, 0x28 }, "not valid UTF-8")]
    [InlineData(new byte[] { (byte)'{', (byte)'x' }, "not valid JSON")]
    [InlineData(new byte[] { (byte)'[', (byte)']' }, "not an object")]
    public async Task Framing_should_reject_bodies_that_are_not_a_json_object(byte[] body, string problem) =>
        Assert.Contains(problem, await RejectionOf(Frame(body)));

    [Theory]
    [InlineData("{\"type\":\"shout\",\"id\":1}", "unknown frame type 'shout'")]
    [InlineData("{\"id\":1,\"text\":\"x\"}", "no \"type\"")]
    [InlineData("{\"type\":1}", "\"type\" is not a string")]
    [InlineData("{\"type\":\"output\",\"id\":1}", "invalid output frame")]
    [InlineData("{\"type\":\"done\",\"ok\":true}", "invalid done frame")]
    [InlineData("{\"type\":\"request\",\"id\":1,\"palette\":null,\"command\":\"c\",\"args\":[]}", "invalid request frame")]
    [InlineData("{\"type\":\"request\",\"id\":1,\"palette\":\"p\",\"command\":\"c\",\"args\":[null]}", "a list holds null")]
    [InlineData("{\"type\":\"output\",\"id\":\"1\",\"text\":\"x\"}", "invalid output frame")]
    public async Task Framing_should_reject_unknown_types_and_missing_fields(string json, string problem) =>
        Assert.Contains(problem, await RejectionOf(Frame(Encoding.UTF8.GetBytes(json))));

    [Fact]
    public async Task Framing_should_refuse_to_write_a_frame_over_the_limit()
    {
        using var stream = new MemoryStream();
        var ex = await Assert.ThrowsAsync<ControlProtocolException>(
            () => ControlFraming.WriteFrameAsync(stream, new Output(1, new string('x', 2000)), 1024, ct: TestContext.Current.CancellationToken));
        Assert.Contains("exceeds the 1024-byte limit", ex.Message);
        Assert.Equal(0, stream.Length);
    }
}
