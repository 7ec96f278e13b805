using DeepSharp.Kernels;

namespace DeepSharp.Tests.Kernels;

/// <summary>
/// The inference path's fused ReLU in the convolution kernels (direct and im2col, pointwise, strided, batched):
/// max(conv(x) + b, 0) against the float64 convolution followed by relu, at every vector width.
/// </summary>
public class ConvEpilogueTests
{
    [Theory]
    [InlineData(1, 1, 6, 5, 1, 2, 28, 28)]   // direct convolution (LeNet's first layer)
    [InlineData(3, 1, 5, 3, 1, 1, 9, 17)]    // direct, partial channel block and vector tail
    [InlineData(1, 16, 16, 3, 1, 1, 8, 8)]   // im2col, one image: the GEMM writes the output itself
    [InlineData(5, 16, 32, 3, 2, 1, 9, 9)]   // im2col, strided, several images per chunk
    [InlineData(2, 8, 4, 1, 1, 0, 5, 7)]     // pointwise
    [InlineData(0, 3, 4, 3, 1, 1, 6, 6)]     // empty batch
    public void ReluEpilogueMatchesFloat64(int batch, int inChannels, int outChannels, int kernel, int stride, int padding, int height, int width) =>
        KernelCases.AtEveryWidth(_ => Check(batch, inChannels, outChannels, kernel, stride, padding, height, width));

    private static unsafe void Check(int batch, int inChannels, int outChannels, int kernel, int stride, int padding, int height, int width)
    {
        var gen = new Generator(5);
        var x = Tensor.Randn([batch, inChannels, height, width], gen);
        var w = Tensor.Randn([outChannels, inChannels, kernel, kernel], gen);
        var b = Tensor.Randn([outChannels], gen);
        var expected = Tensor.Conv2d(x.To(DType.Float64), w.To(DType.Float64), b.To(DType.Float64), stride, padding).Relu().ToArray<double>();
        var g = new ConvGeometry(batch, inChannels, height, width, outChannels, kernel, kernel, stride, stride, padding, padding, 1, 1, 1);
        var y = new float[expected.Length];
        fixed (float* px = x.ToArray<float>(), pw = w.ToArray<float>(), pb = b.ToArray<float>(), py = y)
            ConvKernels.Forward(px, pw, pb, py, g, relu: true);
        for (int i = 0; i < y.Length; i++)
            Assert.True(Math.Abs(expected[i] - y[i]) <= 1e-4 + 1e-4 * Math.Abs(expected[i]), $"[{i}]: {y[i]} vs {expected[i]}");
    }
}
