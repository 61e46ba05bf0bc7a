using static TorchSharp.torch;

namespace InferServer.Kernels.Sampling;

/// <summary>
/// Picks the next token of every running sequence from one step's logits.
/// <para>
/// Per row, in this order (HF <c>GenerationMixin._get_logits_processor</c> puts processors before warpers in the same
/// way, and vLLM's <c>Sampler.forward</c> applies penalties, then greedy, then temperature, then top-k/top-p):
/// <list type="number">
/// <item>repetition penalty over prompt and generated tokens (HF <c>RepetitionPenaltyLogitsProcessor</c>: a positive
/// logit is divided by the penalty, any other multiplied);</item>
/// <item>presence and frequency penalties over generated tokens (OpenAI: logit − count·frequency − [count &gt; 0]·presence,
/// as vLLM's <c>apply_penalties</c>);</item>
/// <item>greedy rows (temperature below <see cref="GreedyTemperature"/>) take the argmax, ties to the lowest id, and stop here;</item>
/// <item>temperature: logits / T (HF <c>TemperatureLogitsWarper</c>);</item>
/// <item>top-k: the k most likely tokens, ties broken towards the lower id so that top-k = 1 is greedy. HF's
/// <c>TopKLogitsWarper</c> keeps every token tied with the k-th; we keep exactly k;</item>
/// <item>top-p: the smallest prefix of the top-k distribution, renormalised, whose mass reaches p (HF <c>TopPLogitsWarper</c>);</item>
/// <item>min-p: tokens with p ≥ min_p · p_max (HF <c>MinPLogitsWarper</c>; renormalising first does not change the ratio);</item>
/// <item>renormalise over the survivors and draw by inverse CDF over the probability-sorted order with one uniform from
/// the row's <see cref="SequenceRandom"/>.</item>
/// </list>
/// Every filter keeps a prefix of the descending order, so after one stable sort, one softmax and one cumulative sum
/// (float64) each filter reduces to a prefix length and the draw to one binary search. Rows whose kept prefix ends
/// among their 256 most likely tokens skip the sort (<see cref="CandidateDraw"/>).
/// </para>
/// <para>
/// Logprobs are the log-softmax of the raw logits (float32), before penalties, temperature and filtering: vLLM's
/// default <c>logprobs_mode="raw_logprobs"</c>. Only ids below <c>allowedVocabulary</c> take part in anything.
/// </para>
/// <para>
/// Batching invariance: every operation below is either elementwise or reduces along the vocabulary of one row, and
/// per-row scalars travel as [rows, 1] columns, so a row's result depends on its own logits, parameters, history and
/// random stream only. Each row takes exactly one draw per call, greedy or not.
/// </para>
/// </summary>
public static class Sampler
{
    /// <summary>Temperatures below this sample greedily; dividing by them would overflow (vLLM's <c>_SAMPLING_EPS</c>).</summary>
    public const double GreedyTemperature = 1e-5;

    /// <summary>
    /// One call per engine step. <paramref name="logits"/> is float32 [rows.Count, vocabulary], row i belonging to
    /// <paramref name="rows"/>[i]. <paramref name="allowedVocabulary"/> excludes ids at and above it (models whose
    /// embedding is padded beyond the tokenizer's vocabulary); null allows all. Advances each row's random stream by
    /// one draw; does not append to the histories (the engine appends what it commits). Returns managed results only.
    /// <paramref name="tokenMasks"/>[i], when given and not null, is row i's constraint (structured outputs): one entry
    /// per id below the allowed vocabulary, false = never sampled. Masked logits become -inf before every other step
    /// (penalties, greedy, temperature, top-k/top-p/min-p), so filters act on the allowed tokens only; logprobs stay
    /// those of the raw distribution. A masked row must allow at least one token.
    /// </summary>
    public static SampledToken[] Sample(Tensor logits, IReadOnlyList<SamplingRow> rows, int? allowedVocabulary = null,
        IReadOnlyList<bool[]?>? tokenMasks = null) =>
        Sample(logits, rows, allowedVocabulary, tokenMasks, sortWholeVocabulary: false);

    /// <summary>
    /// <see cref="Sample(Tensor, IReadOnlyList{SamplingRow}, int?, IReadOnlyList{bool[]})"/>; <paramref name="sortWholeVocabulary"/>
    /// skips <see cref="CandidateDraw"/> so that tests can hold its choices against the full sort's.
    /// </summary>
    internal static SampledToken[] Sample(Tensor logits, IReadOnlyList<SamplingRow> rows, int? allowedVocabulary,
        IReadOnlyList<bool[]?>? tokenMasks, bool sortWholeVocabulary)
    {
        var vocabulary = CheckArguments(logits, rows, allowedVocabulary);
        if (rows.Count == 0)
        {
            return [];
        }

        using var scope = NewDisposeScope();
        // Narrowing removes the padded ids from every later step, the same as vLLM's -inf fill of the padding.
        var allowed = logits.narrow(1, 0, vocabulary);
        var constrained = tokenMasks is not null && tokenMasks.Any(mask => mask is not null) ? ApplyMasks(allowed, tokenMasks, vocabulary) : allowed;
        var penalized = ApplyPenalties(constrained, rows, vocabulary);

        var uniforms = new double[rows.Count];
        for (var row = 0; row < rows.Count; row++)
        {
            uniforms[row] = rows[row].Random.NextDouble();
        }

        var tokenIds = new long[rows.Count];
        var greedyRows = new List<int>();
        var randomRows = new List<int>();
        for (var row = 0; row < rows.Count; row++)
        {
            (rows[row].Parameters.Temperature < GreedyTemperature ? greedyRows : randomRows).Add(row);
        }

        SampleGreedy(penalized, greedyRows, tokenIds);
        SampleRandom(penalized, rows, randomRows, uniforms, tokenIds, sortWholeVocabulary);

        return ReportLogprobs(allowed, rows, tokenIds);
    }

    private static int CheckArguments(Tensor logits, IReadOnlyList<SamplingRow> rows, int? allowedVocabulary)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(rows);
        if (logits.dim() != 2 || logits.dtype != ScalarType.Float32)
        {
            throw new ArgumentException($"logits must be float32 [rows, vocabulary], got {logits.dtype} [{string.Join(", ", logits.shape)}]", nameof(logits));
        }

        if (logits.shape[0] != rows.Count)
        {
            throw new ArgumentException($"logits have {logits.shape[0]} rows but {rows.Count} sampling rows were given", nameof(rows));
        }

        var vocabulary = logits.shape[1];
        if (allowedVocabulary is { } limit && (limit <= 0 || limit > vocabulary))
        {
            throw new ArgumentOutOfRangeException(nameof(allowedVocabulary), limit, $"must be in [1, {vocabulary}]");
        }

        for (var row = 0; row < rows.Count; row++)
        {
            var errors = rows[row].Parameters.Validate();
            if (errors.Count > 0)
            {
                throw new ArgumentException($"row {row}: {string.Join("; ", errors)}", nameof(rows));
            }
        }
        return allowedVocabulary ?? checked((int)vocabulary);
    }

    /// <summary>
    /// The structured-output constraint: one [rows, vocabulary] keep-mask for the whole step (unconstrained rows all
    /// true), one masked_fill. Returns a new tensor; the caller's logits stay raw for the logprobs.
    /// </summary>
    private static Tensor ApplyMasks(Tensor logits, IReadOnlyList<bool[]?> tokenMasks, int vocabulary)
    {
        var rows = (int)logits.shape[0];
        if (tokenMasks.Count != rows)
        {
            throw new ArgumentException($"{tokenMasks.Count} token masks were given for {rows} rows", nameof(tokenMasks));
        }

        var keep = new bool[rows * vocabulary];
        for (var row = 0; row < rows; row++)
        {
            if (tokenMasks[row] is not { } mask)
            {
                Array.Fill(keep, true, row * vocabulary, vocabulary);
                continue;
            }
            if (mask.Length < vocabulary)
            {
                throw new ArgumentException($"row {row}: a token mask of {mask.Length} entries does not cover the vocabulary of {vocabulary}", nameof(tokenMasks));
            }

            Array.Copy(mask, 0, keep, row * vocabulary, vocabulary);
        }
        var disallowed = tensor(keep, device: logits.device).view(rows, vocabulary).logical_not();
        return logits.masked_fill(disallowed, TensorMath.NegativeInfinity);
    }

    /// <summary>
    /// Steps 1 and 2 for all rows at once: one gather of the penalised entries, one elementwise update, one scatter.
    /// Returns <paramref name="logits"/> itself when no row has a penalty, a penalised copy otherwise.
    /// </summary>
    private static Tensor ApplyPenalties(Tensor logits, IReadOnlyList<SamplingRow> rows, int vocabulary)
    {
        var positions = new List<long>();
        var factors = new List<float>();
        var subtrahends = new List<float>();
        for (var row = 0; row < rows.Count; row++)
        {
            var (parameters, history, _) = rows[row];
            var repetition = parameters.RepetitionPenalty;
            if (repetition == 1 && parameters.PresencePenalty == 0 && parameters.FrequencyPenalty == 0)
            {
                continue;
            }

            var rowStart = (long)row * vocabulary;
            if (repetition != 1)
            {
                foreach (var tokenId in history.PromptTokens)
                {
                    // Generated tokens are handled below, with their counts; ids outside the allowed vocabulary are never sampled.
                    if (tokenId < vocabulary && !history.GeneratedCounts.ContainsKey(tokenId))
                    {
                        positions.Add(rowStart + tokenId);
                        factors.Add((float)repetition);
                        subtrahends.Add(0);
                    }
                }
            }
            foreach (var (tokenId, count) in history.GeneratedCounts)
            {
                if (tokenId >= vocabulary)
                {
                    continue;
                }

                positions.Add(rowStart + tokenId);
                factors.Add((float)repetition);
                // One float32 rounding of the whole OpenAI adjustment; vLLM subtracts the two terms separately.
                subtrahends.Add((float)(parameters.FrequencyPenalty * count + parameters.PresencePenalty));
            }
        }
        if (positions.Count == 0)
        {
            return logits;
        }

        var device = logits.device;
        // clone() of the narrowed view is contiguous and never aliases the caller's logits, so the scatter is safe.
        var penalized = logits.clone().contiguous();
        var flat = penalized.view(-1);
        var index = tensor(positions.ToArray(), device: device);
        var values = flat.index_select(0, index);
        var factor = tensor(factors.ToArray(), device: device);
        var repeated = where(values.gt(TensorMath.Zero), values / factor, values * factor);
        flat.index_put_(repeated - tensor(subtrahends.ToArray(), device: device), index);
        return penalized;
    }

    /// <summary>Step 3: argmax returns the first maximal index, i.e. ties go to the lowest id.</summary>
    private static void SampleGreedy(Tensor logits, List<int> greedyRows, long[] tokenIds)
    {
        if (greedyRows.Count == 0)
        {
            return;
        }

        var selected = logits.index_select(0, RowIndex(greedyRows, logits.device));
        var chosen = selected.argmax(-1).cpu().data<long>().ToArray();
        for (var i = 0; i < greedyRows.Count; i++)
        {
            tokenIds[greedyRows[i]] = chosen[i];
        }
    }

    /// <summary>Steps 4 to 8 for all non-greedy rows together, per-row parameters as [rows, 1] columns.</summary>
    private static void SampleRandom(Tensor logits, IReadOnlyList<SamplingRow> rows, List<int> randomRows, double[] uniforms, long[] tokenIds,
        bool sortWholeVocabulary)
    {
        if (randomRows.Count == 0)
        {
            return;
        }

        var device = logits.device;
        var vocabulary = logits.shape[1];
        var count = randomRows.Count;
        var temperature = new double[count];
        var topK = new long[count];
        var topP = new double[count];
        var minP = new double[count];
        var uniform = new double[count];
        for (var i = 0; i < count; i++)
        {
            var parameters = rows[randomRows[i]].Parameters;
            temperature[i] = parameters.Temperature;
            topK[i] = parameters.TopK == 0 ? vocabulary : Math.Min(parameters.TopK, vocabulary);
            topP[i] = parameters.TopP;
            minP[i] = parameters.MinP;
            uniform[i] = uniforms[randomRows[i]];
        }

        // float64 from here on: the cumulative sum over a 150k vocabulary and tiny tail probabilities need it.
        var scaled = logits.index_select(0, RowIndex(randomRows, device)).to(ScalarType.Float64) / Column(temperature, device);
        var drawn = sortWholeVocabulary ? new long?[count] : CandidateDraw.TryDraw(scaled, topK, topP, minP, uniform);
        var unresolved = Enumerable.Range(0, count).Where(i => drawn[i] is null).ToArray();
        for (var i = 0; i < count; i++)
        {
            if (drawn[i] is { } id)
            {
                tokenIds[randomRows[i]] = id;
            }
        }

        if (unresolved.Length == 0)
        {
            return;
        }

        if (unresolved.Length < count)
        {
            scaled = scaled.index_select(0, RowIndex(unresolved, device));
            (topK, topP, minP, uniform) = ([.. unresolved.Select(i => topK[i])], [.. unresolved.Select(i => topP[i])],
                [.. unresolved.Select(i => minP[i])], [.. unresolved.Select(i => uniform[i])]);
        }

        // Stable descending sort: equal logits keep ascending id order, which is what breaks ties at every cut below.
        var (sortedLogits, sortedIds) = scaled.sort(dim: -1, descending: true, stable: true);
        var probabilities = sortedLogits.softmax(-1);
        var cumulative = probabilities.cumsum(-1);

        var topKKept = Column(topK, device);
        var topKMass = cumulative.gather(1, topKKept.Minus(1));
        // Smallest prefix whose renormalised mass reaches p: every position still short of p·mass, plus the one that reaches it.
        var topPKept = (cumulative < Column(topP, device) * topKMass).sum(-1, keepdim: true).Plus(1);
        // The maximum is always position 0; probabilities are descending, so the survivors form a prefix.
        var minPKept = (probabilities >= Column(minP, device) * probabilities.narrow(1, 0, 1)).sum(-1, keepdim: true);
        var kept = minimum(minimum(topKKept, topPKept), minPKept).clamp_min(TensorMath.One);

        // Inverse CDF: the first position whose cumulative mass exceeds u times the survivors' mass.
        var keptMass = cumulative.gather(1, kept.Minus(1));
        var target = Column(uniform, device) * keptMass;
        var position = searchsorted(cumulative, target, right: true).minimum(kept.Minus(1));
        var chosen = sortedIds.gather(1, position).cpu().data<long>().ToArray();
        for (var i = 0; i < unresolved.Length; i++)
        {
            tokenIds[randomRows[unresolved[i]]] = chosen[i];
        }
    }

    /// <summary>Raw-logit log-probabilities for the rows that asked: the chosen token's and the requested number of top alternatives.</summary>
    private static SampledToken[] ReportLogprobs(Tensor logits, IReadOnlyList<SamplingRow> rows, long[] tokenIds)
    {
        var results = new SampledToken[rows.Count];
        var logprobRows = new List<int>();
        for (var row = 0; row < rows.Count; row++)
        {
            if (rows[row].Parameters.Logprobs)
            {
                logprobRows.Add(row);
            }
            else
            {
                results[row] = new SampledToken(checked((int)tokenIds[row]), null, []);
            }
        }
        if (logprobRows.Count == 0)
        {
            return results;
        }

        var device = logits.device;
        var logprobs = logits.index_select(0, RowIndex(logprobRows, device)).log_softmax(-1);
        var chosenIds = logprobRows.Select(row => tokenIds[row]).ToArray();
        var chosen = logprobs.gather(1, Column(chosenIds, device)).cpu().data<float>().ToArray();

        // One topk per distinct count, so a row's alternatives come from a call shaped by its own request only.
        var alternatives = new TokenLogprob[logprobRows.Count][];
        foreach (var group in Enumerable.Range(0, logprobRows.Count).GroupBy(i => rows[logprobRows[i]].Parameters.TopLogprobs))
        {
            var k = group.Key;
            var members = group.ToArray();
            if (k == 0)
            {
                foreach (var i in members)
                {
                    alternatives[i] = [];
                }

                continue;
            }
            var count = (int)Math.Min(k, logits.shape[1]);
            var (values, ids) = logprobs.index_select(0, RowIndex(members, device)).topk(count, dim: -1, largest: true, sorted: true);
            var hostValues = values.cpu().data<float>().ToArray();
            var hostIds = ids.cpu().data<long>().ToArray();
            for (var m = 0; m < members.Length; m++)
            {
                var top = new TokenLogprob[count];
                for (var j = 0; j < count; j++)
                {
                    top[j] = new TokenLogprob(checked((int)hostIds[m * count + j]), hostValues[m * count + j]);
                }
                // topk does not promise an order among equal values; fix it to ascending id.
                Array.Sort(top, static (a, b) => a.Logprob != b.Logprob ? b.Logprob.CompareTo(a.Logprob) : a.TokenId.CompareTo(b.TokenId));
                alternatives[members[m]] = top;
            }
        }

        for (var i = 0; i < logprobRows.Count; i++)
        {
            var row = logprobRows[i];
            results[row] = new SampledToken(checked((int)tokenIds[row]), chosen[i], alternatives[i]);
        }
        return results;
    }

    private static Tensor RowIndex(IReadOnlyCollection<int> rowNumbers, Device device) =>
        tensor(rowNumbers.Select(row => (long)row).ToArray(), device: device);

    private static Tensor Column(double[] values, Device device) => tensor(values, device: device).unsqueeze(1);

    private static Tensor Column(long[] values, Device device) => tensor(values, device: device).unsqueeze(1);
}
