using System.Collections.Concurrent;
using InferServer.Engine.Models;
using InferServer.Engine.Tokenization;
using Microsoft.Extensions.Logging;

namespace InferServer.Engine;

/// <summary>
/// The classification mode (encoders and decoder classifiers), for Classify and Embed alike: it owns the <see cref="ClassificationScheduler"/>
/// and the step runner. One turn = take arrivals, reap, plan rows, run one step, complete jobs.
/// </summary>
internal sealed class ClassificationMode : IEngineMode
{
    private readonly ISequenceClassifier model;
    private readonly TextTokenizer tokenizer;
    private readonly IEngineAdapters adapters;
    private readonly EngineAdmission admission;
    private readonly EngineCounters counters;
    private readonly ILogger logger;
    private readonly TimeProvider time;
    private readonly EngineOptions options;
    private readonly ClassificationScheduler scheduler;
    private readonly ClassificationStepRunner runner;
    private readonly ConcurrentQueue<ClassificationJob> incomingClassifications = new();
    // The jobs of the current turn's step, so that a turn that throws fails those only; null until one is planned.
    private List<ClassificationJob>? step;

    public ClassificationMode(EngineOptions options, ISequenceClassifier model, TextTokenizer tokenizer, IEngineAdapters adapters,
        string servedName, EngineAdmission admission, EngineCounters counters, ILogger logger, TimeProvider time)
    {
        this.options = options;
        this.model = model;
        this.tokenizer = tokenizer;
        this.adapters = adapters;
        this.admission = admission;
        this.counters = counters;
        this.logger = logger;
        this.time = time;
        var maxContext = options.MaxContextTokens > 0 ? Math.Min(options.MaxContextTokens, model.MaxPositions) : model.MaxPositions;
        Model = new EngineModelInfo(servedName, model.ModelType, ModelKind.Classification, maxContext, null, model.Labels);
        scheduler = new ClassificationScheduler(options, adapters);
        runner = new ClassificationStepRunner(model);
    }

    public EngineModelInfo Model { get; }

    public ModeLoad Load => ModeLoad.None;

    public GenerationSequence Submit(GenerationRequest request) =>
        throw new ModelCapabilityException($"the served model '{Model.ServedName}' ({Model.ModelType}) is a classifier; use Classify");

    public ClassificationJob Submit(ClassificationRequest request)
    {
        if (request.Texts.Count == 0)
        {
            throw new RequestValidationException("texts", "at least one text is required");
        }

        if (request.Output == EncoderOutput.Labels && string.IsNullOrEmpty(request.Adapter) && !model.HasBaseClassifier)
        {
            throw new ModelCapabilityException($"the served model '{Model.ServedName}' is an encoder without a classification head; name an adapter with one, or use Embed");
        }

        if (request.Output == EncoderOutput.Embedding && !model.ServesEmbeddings)
        {
            throw new ModelCapabilityException($"the served model '{Model.ServedName}' ({Model.ModelType}) is a decoder classifier; Embed is not served, use Classify");
        }

        var texts = new int[request.Texts.Count][];
        for (var i = 0; i < texts.Length; i++)
        {
            texts[i] = [.. tokenizer.Encode(request.Texts[i], addSpecialTokens: true)];
            if (texts[i].Length > Model.MaxContextTokens)
            {
                throw new RequestValidationException($"texts[{i}]", $"{texts[i].Length} tokens exceed the model's limit of {Model.MaxContextTokens}");
            }

            if (texts[i].Length == 0)
            {
                throw new RequestValidationException($"texts[{i}]", "the text has no tokens");
            }
        }
        var job = new ClassificationJob(request, texts, time.GetUtcNow());
        if (job.Adapter is not null)
        {
            adapters.EnsureRegistered(job.Adapter);
        }

        job.Place = admission.TakePlace();
        try
        {
            if (job.Adapter is not null)
            {
                job.Hold = admission.Hold(job.Adapter);
            }

            admission.Enqueue(() => incomingClassifications.Enqueue(job));
        }
        catch
        {
            job.ReleaseClaims();
            throw;
        }
        return job;
    }

    public TurnOutcome Turn()
    {
        step = null;
        while (incomingClassifications.TryDequeue(out var arrived))
        {
            scheduler.Enqueue(arrived);
        }

        Reap();
        adapters.FreeRetired();
        var (rows, slots) = scheduler.Plan();
        foreach (var (job, error) in scheduler.TakeRefused())
        {
            InferenceEngine.Log.AdmissionFailed(logger, job.Adapter ?? "", error);
            FailJobs([job], new EngineFailedException("the server could not prepare this request's adapter; see the server log", error));
        }
        if (rows.Count == 0)
        {
            return TurnOutcome.Idle;
        }

        var jobs = rows.Select(r => r.Job).Distinct().ToList();
        step = jobs;
        try
        {
            runner.Run(rows);
        }
        catch (Exception e)
        {
            InferenceEngine.Log.StepFailed(logger, rows.Count, e);
            FailJobs(jobs, new EngineFailedException("the model step classifying these texts failed; see the server log", e));
            return TurnOutcome.Failed(e);
        }
        finally
        {
            foreach (var slot in slots)
            {
                adapters.ReleaseSlot(slot);
            }
        }
        counters.StepRan(rows.Count);
        counters.PromptTokens(rows.Sum(r => r.Job.Texts[r.TextIndex].Length));
        foreach (var job in jobs)
        {
            job.Done = job.Results.Count(r => r is not null);
            if (job.Done < job.Texts.Count)
            {
                continue;
            }

            if (!job.Results.All(r => r!.IsFinite))
            {
                FailJobs([job], new NonFiniteOutputException(job.Adapter));
                continue;
            }
            scheduler.Remove(job);
            job.Completion.TrySetResult(new ClassificationResult(job.Results.Select(r => r!).ToArray(), job.ServedFrom));
        }
        return TurnOutcome.Stepped;
    }

    public void FailTurn(Exception error) =>
        FailJobs(step ?? scheduler.Waiting, new EngineFailedException("the engine failed while classifying; see the server log", error));

    public void EndAll(Exception error) => FailJobs(scheduler.Waiting, error);

    public void RefuseArrivals(Exception error)
    {
        while (incomingClassifications.TryDequeue(out var job))
        {
            job.ReleaseClaims();
            job.Completion.TrySetException(error);
        }
    }

    /// <summary>Frees the model; the loop has ended.</summary>
    public void Dispose() => model.Dispose();

    /// <summary>
    /// Ends cancelled and expired jobs, jobs whose adapter failed to load or timed out loading, and jobs asking for labels
    /// from an adapter without a head when the base has none either (they could never run).
    /// </summary>
    private void Reap()
    {
        var now = time.GetUtcNow();
        foreach (var job in scheduler.Waiting.ToArray())
        {
            var failure = job.IsCancelled ? new OperationCanceledException("the caller cancelled the request")
                : job.IsExpired(now) ? new DeadlineExceededException("before classification finished")
                : job.Hold?.Failure;
            if (failure is null && job.Hold is { IsPending: true } && now - job.Submitted >= options.AdapterLoadTimeout)
            {
                failure = new AdapterLoadTimeoutException(job.Adapter!, options.AdapterLoadTimeout);
            }

            if (failure is null && job.Request.Output == EncoderOutput.Labels && job.HostAdapter is { Classifier: null } && !model.HasBaseClassifier)
            {
                failure = new ModelCapabilityException(
                    $"adapter '{job.Adapter}' brings no classification head and the served model '{Model.ServedName}' has none; use Embed, or an adapter trained with a head");
            }

            if (failure is not null)
            {
                FailJobs([job], failure);
            }
        }
    }

    /// <summary>Ends <paramref name="jobs"/> with <paramref name="error"/>, releasing each one's place and pin.</summary>
    private void FailJobs(IEnumerable<ClassificationJob> jobs, Exception error)
    {
        foreach (var job in jobs.ToArray())
        {
            scheduler.Remove(job);
            job.Completion.TrySetException(error);
        }
    }
}
