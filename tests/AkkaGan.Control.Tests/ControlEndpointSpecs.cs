namespace AkkaGan.Control.Tests;

public sealed class ControlEndpointSpecs
{
    [Theory]
    [InlineData("127.0.0.1:9120", "127.0.0.1", 9120)]
    [InlineData("node-a.cluster:1", "node-a.cluster", 1)]
    [InlineData("[::1]:9121", "::1", 9121)]
    public void Endpoint_should_parse_host_and_port(string text, string host, int port)
    {
        var endpoint = ControlEndpoint.Parse(text);
        Assert.Equal((host, port), (endpoint.Host, endpoint.Port));
        Assert.Equal(text, endpoint.ToString());
    }

    [Theory]
    [InlineData("localhost", "'localhost' is not HOST:PORT")]
    [InlineData("localhost:", "'localhost:' is not HOST:PORT")]
    [InlineData(":9120", "':9120' is not HOST:PORT")]
    [InlineData("localhost:http", "port 'http' is not a number from 1 to 65535")]
    [InlineData("localhost:70000", "port '70000' is not a number")]
    [InlineData("::1:9120", "IPv6 host in brackets")]
    public void Endpoint_should_reject_malformed_addresses_saying_why(string text, string problem) =>
        Assert.Contains(problem, Assert.Throws<FormatException>(() => ControlEndpoint.Parse(text)).Message);
}
