using System.Net;
using System.Net.Sockets;
using System.Text;
using InferServer.Server.Api.OpenAi;
using InferServer.Server.Tests.Api;
using InferServer.Server.Tests.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace InferServer.Server.Tests.Reliability;

/// <summary>
/// Request bodies a client can send the OpenAI-compatible API that Kestrel itself refuses while the handler reads them:
/// larger than Api:MaxReceiveMessageBytes (with a Content-Length or chunked without end), or trickling in slower than
/// Kestrel's minimum data rate (slowloris). Each is the client's fault: a 4xx answer, never a 500 "internal error" logged
/// as an unhandled exception and counted as Internal in inferserver_requests_total.
/// </summary>
public sealed class OpenAiRequestBodyTests(ITestOutputHelper output)
{
    private const int Limit = 4096;

    private Task<TestServer> StartAsync() => TestServer.StartAsync(output, new FakeEngine(), new Dictionary<string, string?>
    {
        ["Api:MaxReceiveMessageBytes"] = Limit.ToString(),
    });

    private static Uri OpenAiAddress(TestServer server) =>
        server.Services.GetRequiredService<OpenAiListener>().Address ?? throw new InvalidOperationException("the OpenAI API is not bound");

    [Fact]
    public async Task ABodyOverTheLimit_WithContentLength_IsAClientError_NotAnInternalError()
    {
        await using var server = await StartAsync();
        using var client = new HttpClient { BaseAddress = OpenAiAddress(server) };
        var body = $$"""{"model":"base","prompt":"{{new string('a', 4 * Limit)}}","max_tokens":2}""";

        using var response = await client.PostAsync("/v1/completions", new StringContent(body, Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();

        Assert.True((int)response.StatusCode is >= 400 and < 500, $"answered {(int)response.StatusCode}: {text}");
        Assert.DoesNotContain("internal", text, StringComparison.OrdinalIgnoreCase);
        await AssertNoInternalCountedAsync(server);
    }

    [Fact]
    public async Task AChunkedBodyThatNeverEnds_IsCutAtTheLimit_AsAClientError()
    {
        await using var server = await StartAsync();
        var (status, text) = await RawPostAsync(OpenAiAddress(server), async stream =>
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes("9\r\n{\"model\":\r\n"));
            var chunk = Encoding.ASCII.GetBytes($"{1024:x}\r\n{new string(' ', 1024)}\r\n");
            for (var i = 0; i < 4 * Limit / 1024; i++)
                await stream.WriteAsync(chunk);
        });

        Assert.True(status is >= 400 and < 500, $"answered {status}: {text}");
        Assert.DoesNotContain("internal", text, StringComparison.OrdinalIgnoreCase);
        await AssertNoInternalCountedAsync(server);
    }

    [Fact]
    public async Task ABodyTricklingInBelowKestrelsMinimumRate_IsAClientError()
    {
        await using var server = await StartAsync();
        var (status, text) = await RawPostAsync(OpenAiAddress(server), async stream =>
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes("1\r\n{\r\n"));
            // Kestrel's MinRequestBodyDataRate: 240 bytes/s after a 5 s grace period. One byte a second fails it.
            for (var i = 0; i < 30; i++)
            {
                await stream.WriteAsync(Encoding.ASCII.GetBytes("1\r\n \r\n"));
                await Task.Delay(1000);
            }
        });

        Assert.True(status is >= 400 and < 500, $"answered {status}: {text}");
        Assert.DoesNotContain("internal", text, StringComparison.OrdinalIgnoreCase);
        await AssertNoInternalCountedAsync(server);
    }

    /// <summary>POSTs /v1/completions with a chunked body written by <paramref name="writeBody"/> (which may be cut off by
    /// the server), then reads the status line and the start of the body.</summary>
    [Fact]
    public async Task AClientThatResetsWhileSendingItsBody_IsCountedAsCancelled_NotAsAnInternalError()
    {
        await using var server = await StartAsync();
        var address = OpenAiAddress(server);
        using (var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            await socket.ConnectAsync(address.Host, address.Port);
            await socket.SendAsync(Encoding.ASCII.GetBytes(
                $"POST /v1/completions HTTP/1.1\r\nHost: {address.Authority}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"model\":"));
            await Task.Delay(200);
            socket.Close(0); // an abortive close: RST, as a crashed client or a proxy dropping the connection sends
        }

        // The handler notices the reset while it reads the body; it ends the call as cancelled by the client.
        await Poll.UntilAsync(async () => (await server.Http.GetStringAsync("/metrics")).Split('\n').Any(line =>
            line.StartsWith("inferserver_requests_total{", StringComparison.Ordinal)
            && line.Contains("rpc=\"openai/v1/completions\"", StringComparison.Ordinal)
            && line.Contains("status=\"Cancelled\"", StringComparison.Ordinal)));
        await AssertNoInternalCountedAsync(server);
    }

    private static async Task<(int Status, string Text)> RawPostAsync(Uri address, Func<NetworkStream, Task> writeBody)
    {
        using var socket = new TcpClient();
        await socket.ConnectAsync(address.Host, address.Port);
        var stream = socket.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"POST /v1/completions HTTP/1.1\r\nHost: {address.Authority}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"));
        try
        {
            await writeBody(stream);
        }
        catch (IOException)
        {
            // The server answered and closed the connection while the body was still being sent: read its answer.
        }
        var buffer = new byte[8192];
        var received = new StringBuilder();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            int read;
            while ((read = await stream.ReadAsync(buffer, timeout.Token)) > 0)
            {
                received.Append(Encoding.UTF8.GetString(buffer, 0, read));
                if (received.ToString().Contains("\r\n\r\n") && received.ToString().Contains("\"error\"")) break;
            }
        }
        catch (IOException)
        {
        }
        var response = received.ToString();
        var statusLine = response.Split("\r\n")[0];
        Assert.StartsWith("HTTP/1.1 ", statusLine);
        return (int.Parse(statusLine.Split(' ')[1]), response);
    }

    private static async Task AssertNoInternalCountedAsync(TestServer server)
    {
        var metrics = await server.Http.GetStringAsync("/metrics");
        Assert.DoesNotContain(metrics.Split('\n'), line =>
            line.StartsWith("inferserver_requests_total{", StringComparison.Ordinal) && line.Contains("status=\"Internal\"", StringComparison.Ordinal));
    }
}
