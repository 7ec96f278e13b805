namespace DeepSharp.Tests.Kernels;

/// <summary>
/// The input gradient of conv2d against a naive float64 loop (gx[n, c, iy, ix] = sum over o, ky, kx of w * gy at the
/// output position that tap maps to), at every vector width. Stride-1 undilated ungrouped shapes run as a forward
/// convolution with flipped weights (ConvKernels.AsForward); the others through col2im: both are checked, over odd
/// sizes, paddings from 0 to kernel - 1 and beyond, non-square kernels and batches of 0, 1 and 3, in float32 and float64.
/// </summary>
public class ConvInputGradientTests
{
    [Theory]
    [InlineData(3, 4, 5, 3, 3, 1, 1, 1, 1, 1)]   // resnet's 3x3 pad 1
    [InlineData(1, 16, 16, 3, 3, 1, 1, 1, 1, 1)]
    [InlineData(3, 5, 7, 3, 3, 0, 0, 1, 1, 1)]   // valid
    [InlineData(3, 2, 3, 5, 5, 2, 2, 1, 1, 1)]   // LeNet-style 5x5
    [InlineData(3, 3, 2, 2, 3, 1, 0, 1, 1, 1)]   // non-square kernel and padding
    [InlineData(0, 3, 4, 3, 3, 1, 1, 1, 1, 1)]   // empty batch
    [InlineData(3, 4, 6, 3, 3, 3, 3, 1, 1, 1)]   // padding beyond kernel - 1: the col2im path
    [InlineData(3, 4, 6, 3, 3, 1, 1, 2, 1, 1)]   // stride 2: col2im
    [InlineData(3, 4, 6, 3, 3, 2, 2, 1, 2, 1)]   // dilation 2: col2im
    [InlineData(3, 4, 6, 3, 3, 1, 1, 1, 1, 2)]   // groups: col2im
    public void MatchesANaiveFloat64Loop(int batch, int inChannels, int outChannels, int kh, int kw, int padH, int padW, int stride, int dilation, int groups) =>
        KernelCases.AtEveryWidth(_ =>
        {
            foreach (var dtype in new[] { DType.Float32, DType.Float64 })
                Check(dtype, batch, inChannels, outChannels, kh, kw, padH, padW, stride, dilation, groups, 9, 11);
        });

    /// <summary>
    /// A one-column input under a kernel 5 wide with padding 2 (ONNX's test_Conv1d_pad2size1): the outer taps reach no
    /// input column at all, which the scalar im2col once sliced from column -1. Forward (through the input gradient's
    /// own forward pass) and col2im (groups) at every width.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void TapsThatReachNoInputColumn(int groups) =>
        KernelCases.AtEveryWidth(_ =>
        {
            foreach (var dtype in new[] { DType.Float32, DType.Float64 })
                Check(dtype, 2, 4, 4, 1, 5, 0, 2, 1, 1, groups, 1, 1);
        });

    private static void Check(DType dtype, int batch, int c, int o, int kh, int kw, int padH, int padW, int stride, int dilation, int groups, int h, int w)
    {
        var gen = new Generator(5);
        var x = Tensor.Randn([batch, c, h, w], gen).To(dtype).SetRequiresGrad();
        var weight = Tensor.Randn([o, c / groups, kh, kw], gen).To(dtype);
        var y = Tensor.Conv2d(x, weight, null, (stride, stride), (padH, padW), (dilation, dilation), groups);
        var gy = Tensor.Randn(y.ShapeArray, gen).To(dtype);
        (y * gy).Sum().Backward();

        int oh = y.ShapeArray[2], ow = y.ShapeArray[3], cg = c / groups, og = o / groups;
        var wv = weight.To(DType.Float64).ToArray<double>();
        var gyv = gy.To(DType.Float64).ToArray<double>();
        var expected = new double[batch * c * h * w];
        for (int n = 0; n < batch; n++)
            for (int oc = 0; oc < o; oc++)
                for (int ci = 0; ci < cg; ci++)
                    for (int ky = 0; ky < kh; ky++)
                        for (int kx = 0; kx < kw; kx++)
                            for (int oy = 0; oy < oh; oy++)
                                for (int ox = 0; ox < ow; ox++)
                                {
                                    int iy = oy * stride - padH + ky * dilation, ix = ox * stride - padW + kx * dilation;
                                    if ((uint)iy >= (uint)h || (uint)ix >= (uint)w) continue;
                                    int channel = oc / og * cg + ci;
                                    expected[((n * c + channel) * h + iy) * w + ix] +=
                                        wv[((oc * cg + ci) * kh + ky) * kw + kx] * gyv[((n * o + oc) * oh + oy) * ow + ox];
                                }
        var actual = x.Grad!.To(DType.Float64).ToArray<double>();
        Assert.Equal(expected.Length, actual.Length);
        double tol = dtype == DType.Float32 ? 1e-4 : 1e-12;
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol * (1 + Math.Abs(expected[i])), $"{dtype} gx[{i}]: {actual[i]} vs {expected[i]}");
    }
}
