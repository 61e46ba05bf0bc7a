using static TorchSharp.torch;

namespace InferServer.Kernels.Attention;

/// <summary>
/// Where the rows of one encoder step go in a padded [sequences, maxLength] grid, built once per step and shared by every
/// layer. Projections run on the flat rows (no padding work); only attention sees the grid, so the step makes one SDPA
/// call per layer instead of one per sequence. When every sequence has the same length the grid is a plain view and no
/// index or mask exists. Tensors live in the caller's dispose scope (the step's).
/// </summary>
public sealed class EncoderAttentionLayout
{
    private EncoderAttentionLayout(int sequences, int maxLength, Tensor? gather, Tensor? scatter, Tensor? keyMask)
    {
        Sequences = sequences;
        MaxLength = maxLength;
        Gather = gather;
        Scatter = scatter;
        KeyMask = keyMask;
    }

    /// <summary>Number of sequences (grid rows).</summary>
    public int Sequences { get; }

    /// <summary>Longest sequence (grid columns).</summary>
    public int MaxLength { get; }

    /// <summary>int64 [sequences · maxLength]: the flat row each grid cell reads (padding reads its sequence's first row,
    /// masked out as a key and dropped as a query); null when the grid is the flat rows' own view.</summary>
    public Tensor? Gather { get; }

    /// <summary>int64 [rows]: the grid cell of each flat row; null when uniform.</summary>
    public Tensor? Scatter { get; }

    /// <summary>bool [sequences, 1, 1, maxLength], true where the key is a real token; null when uniform.</summary>
    public Tensor? KeyMask { get; }

    /// <summary>The layout of consecutive <paramref name="sequences"/> (row ranges in order, as an encoder step lays them out).</summary>
    public static EncoderAttentionLayout Create(IReadOnlyList<(int Start, int Length)> sequences, Device device)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        var maxLength = sequences.Max(s => s.Length);
        if (sequences.All(s => s.Length == maxLength))
        {
            return new EncoderAttentionLayout(sequences.Count, maxLength, null, null, null);
        }

        var gather = new long[sequences.Count * maxLength];
        var scatter = new long[sequences.Sum(s => s.Length)];
        var mask = new bool[gather.Length];
        for (var s = 0; s < sequences.Count; s++)
        {
            var (start, length) = sequences[s];
            for (var position = 0; position < maxLength; position++)
            {
                var cell = s * maxLength + position;
                gather[cell] = position < length ? start + position : start;
                mask[cell] = position < length;
                if (position < length)
                {
                    scatter[start + position] = cell;
                }
            }
        }
        return new EncoderAttentionLayout(sequences.Count, maxLength, tensor(gather, device: device), tensor(scatter, device: device),
            tensor(mask, device: device).view(sequences.Count, 1, 1, maxLength));
    }
}
