using System.Text;
using InferServer.Engine;
using Microsoft.Extensions.Options;

namespace InferServer.Server.Observability;

/// <summary>
/// With Metrics:VllmCompatibleNames, appends the vLLM-named protocol metrics to every /metrics answer (on each port
/// that serves /metrics, the OpenAI port included, which is where an endpoint picker scrapes its pool's pods).
/// </summary>
public static class VllmCompatibleMetrics
{
    private const string OpenMetricsEnd = "# EOF\n";

    /// <summary>Adds the middleware; a no-op unless the option is set.</summary>
    public static WebApplication UseVllmCompatibleMetrics(this WebApplication app)
    {
        if (!app.Services.GetRequiredService<IOptions<MetricsOptions>>().Value.VllmCompatibleNames)
        {
            return app;
        }

        app.Use(async (context, next) =>
        {
            if (!HttpMethods.IsGet(context.Request.Method) || context.Request.Path != "/metrics")
            {
                await next(context);
                return;
            }
            var original = context.Response.Body;
            using var buffer = new MemoryStream();
            context.Response.Body = buffer;
            try
            {
                await next(context);
            }
            finally
            {
                context.Response.Body = original;
            }
            var text = new StringBuilder(Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
            if (context.Response.StatusCode == StatusCodes.Status200OK)
            {
                // OpenMetrics (negotiated by Accept) must end with "# EOF"; the appended series go before it.
                var openMetrics = text.Length >= OpenMetricsEnd.Length && text.ToString(text.Length - OpenMetricsEnd.Length, OpenMetricsEnd.Length) == OpenMetricsEnd;
                if (openMetrics)
                {
                    text.Length -= OpenMetricsEnd.Length;
                }

                var engine = context.RequestServices.GetRequiredService<IInferenceEngine>();
                ModelServerProtocolMetrics.WriteVllmExposition(text, engine.Status, engine.Model.ServedName);
                if (openMetrics)
                {
                    text.Append(OpenMetricsEnd);
                }
            }
            var bytes = Encoding.UTF8.GetBytes(text.ToString());
            context.Response.ContentLength = bytes.Length;
            await original.WriteAsync(bytes, context.RequestAborted);
        });
        return app;
    }
}
