namespace DeepSharp.Kernels;

/// <summary>
/// The shape arithmetic of a 2-D convolution (NCHW input, [O, C/groups, kh, kw] weight):
/// out = floor((in + 2 pad - dilation (k - 1) - 1) / stride) + 1. One-dimensional convolutions use H = 1.
/// </summary>
internal readonly record struct ConvGeometry(
    int Batch, int InChannels, int InH, int InW,
    int OutChannels, int KernelH, int KernelW,
    int StrideH, int StrideW, int PadH, int PadW, int DilationH, int DilationW, int Groups)
{
    public int OutH => (InH + 2 * PadH - DilationH * (KernelH - 1) - 1) / StrideH + 1;
    public int OutW => (InW + 2 * PadW - DilationW * (KernelW - 1) - 1) / StrideW + 1;

    /// <summary>Input channels per group.</summary>
    public int GroupIn => InChannels / Groups;

    /// <summary>Output channels per group.</summary>
    public int GroupOut => OutChannels / Groups;

    /// <summary>Rows of the unfolded input for one group: (C/groups) * kh * kw.</summary>
    public int K => GroupIn * KernelH * KernelW;

    /// <summary>Output positions per image.</summary>
    public int P => OutH * OutW;

    public int InPlane => InH * InW;

    /// <summary>ceil(a / b) for b &gt; 0 and any sign of a (index ranges that start left of the image).</summary>
    internal static int CeilDiv(int a, int b) => a >= 0 ? (a + b - 1) / b : -((-a) / b);

    /// <summary>floor(a / b) for b &gt; 0 and any sign of a.</summary>
    internal static int FloorDiv(int a, int b) => a >= 0 ? a / b : -((-a + b - 1) / b);

    /// <summary>Stride 1 in both dimensions.</summary>
    public bool UnitStride => StrideH == 1 && StrideW == 1;

    /// <summary>A 1x1, stride-1, unpadded convolution needs no unfolding: the input plane is already the column matrix.</summary>
    public bool IsPointwise => KernelH == 1 && KernelW == 1 && UnitStride && PadH == 0 && PadW == 0;

    /// <summary>Images per work chunk: enough columns to amortise a GEMM call, few enough to stay in L2.</summary>
    public int ChunkImages
    {
        get
        {
            long perImage = Math.Max(1L, (long)K * P);
            long target = 96 * 1024; // elements of the column block
            return (int)Math.Clamp(target / perImage, 1, Math.Max(Batch, 1));
        }
    }
}
