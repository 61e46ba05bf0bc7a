using static TorchSharp.torch;

namespace InferServer.Kernels.Sampling;

/// <summary>
/// Steps 4 to 8 of <see cref="Sampler"/> (temperature, top-k, top-p, min-p, the draw) from each row's most likely
/// <see cref="Candidates"/> tokens instead of a sort of the whole vocabulary, for the rows whose cut falls among them.
/// </summary>
/// <remarks>
/// Why: the full path sorts every random row's vocabulary in float64 each step; on the 2-core development VM that was
/// several milliseconds per row (top-p at 64 rows cost more than the model's decode step). Every filter keeps a prefix of
/// the descending order, so when the prefix ends inside the candidates, the candidates decide everything: the survivors,
/// their mass and the draw. The probabilities are those of the whole vocabulary (one exp-sum over each row), the order
/// is the full path's (value descending, ties to the lower id), so the chosen token is the one the full sort picks for
/// the same uniform (up to the last bit of a sum taken in another order, which moves a cut only when the uniform or a
/// mass lands within ~1e-16 of it). A row whose cut lies beyond the candidates, or whose last candidate ties with a token
/// left out, returns null: the caller sorts that row as before. Whether a row takes this path depends on its own logits
/// and parameters only, so batching changes nothing.
/// </remarks>
internal static class CandidateDraw
{
    /// <summary>How many of a row's most likely tokens are examined before falling back to a full sort.</summary>
    public const int Candidates = 256;

    /// <summary>
    /// The chosen token of each row of <paramref name="scaled"/> (float64 logits / temperature, [n, vocabulary]), or null
    /// where the row's cut is not decided by its candidates.
    /// </summary>
    public static long?[] TryDraw(Tensor scaled, long[] topK, double[] topP, double[] minP, double[] uniform)
    {
        var count = (int)scaled.shape[0];
        var vocabulary = scaled.shape[1];
        var width = (int)Math.Min(Candidates, vocabulary);
        var (values, ids) = scaled.topk(width, dim: -1, largest: true, sorted: true);
        var maximum = values.narrow(1, 0, 1);
        // softmax's normaliser over the whole row, and how many tokens reach the last candidate's value (ties beyond it).
        var normaliser = (scaled - maximum).exp().sum(-1).cpu().data<double>().ToArray();
        var reachingLast = scaled.ge(values.narrow(1, width - 1, 1)).sum(-1).cpu().data<long>().ToArray();
        var hostValues = values.cpu().data<double>().ToArray();
        var hostIds = ids.cpu().data<long>().ToArray();

        var chosen = new long?[count];
        var order = new (double Value, long Id)[width];
        var probabilities = new double[width];
        var cumulative = new double[width];
        for (var row = 0; row < count; row++)
        {
            for (var j = 0; j < width; j++)
            {
                order[j] = (hostValues[row * width + j], hostIds[row * width + j]);
            }

            // topk promises no order among equal values; the full path's stable sort puts the lower id first.
            Array.Sort(order, static (a, b) => a.Value != b.Value ? b.Value.CompareTo(a.Value) : a.Id.CompareTo(b.Id));
            // Complete: the candidates are exactly the row's first `width` tokens in the full path's order. A last candidate
            // of -inf (a structured-output mask allowing fewer tokens) means every possible token is among them.
            var complete = reachingLast[row] == width || width == vocabulary || double.IsNegativeInfinity(order[width - 1].Value);
            var sum = 0.0;
            for (var j = 0; j < width; j++)
            {
                probabilities[j] = Math.Exp(order[j].Value - order[0].Value) / normaliser[row];
                sum += probabilities[j];
                cumulative[j] = sum;
            }

            chosen[row] = complete ? Draw(order, probabilities, cumulative, topK[row], topP[row], minP[row], uniform[row], vocabulary) : null;
        }

        return chosen;
    }

    /// <summary>The full path's cuts and draw over the candidates; null when the kept prefix may reach past them.</summary>
    private static long? Draw((double Value, long Id)[] order, double[] probabilities, double[] cumulative, long topK, double topP,
        double minP, double uniform, long vocabulary)
    {
        var width = order.Length;
        if (topK > width && topK < vocabulary)
        {
            // top-p renormalises over the top-k mass, which then reaches past the candidates.
            return null;
        }

        // Each cut as the full path computes it, or null where it lies beyond the candidates.
        long? topKKept = topK <= width ? topK : null;
        // top-k's mass: with no top-k cut at all, the whole distribution (1 up to rounding).
        var topKMass = topKKept is { } k ? cumulative[k - 1] : 1.0;
        var shortOfP = 0;
        while (shortOfP < width && cumulative[shortOfP] < topP * topKMass)
        {
            shortOfP++;
        }

        long? topPKept = shortOfP < width ? shortOfP + 1 : null;
        var floor = minP * probabilities[0];
        var above = 0;
        while (above < width && probabilities[above] >= floor)
        {
            above++;
        }

        long? minPKept = above < width || width == vocabulary ? above : null;
        long? decided = null;
        foreach (var cut in new[] { topKKept, topPKept, minPKept })
        {
            if (cut is { } value)
            {
                decided = decided is { } known ? Math.Min(known, value) : value;
            }
        }

        if (decided is not { } kept)
        {
            return null;
        }

        kept = Math.Max(kept, 1);
        var target = uniform * cumulative[kept - 1];
        var position = 0;
        while (position < kept - 1 && cumulative[position] <= target)
        {
            position++;
        }

        return order[position].Id;
    }
}
