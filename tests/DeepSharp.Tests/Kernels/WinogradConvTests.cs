using DeepSharp.Kernels;

namespace DeepSharp.Tests.Kernels;

/// <summary>
/// Winograd against the same convolution in float64 (im2col): output and input gradient (the flipped convolution,
/// Winograd again) through F(4x4, 3x3) where the batch fills its rows and F(2x2, 3x3) where it fills only the narrower
/// ones; weight gradient (transposed transforms, F(4x4, 3x3) on images of 20+ pixels, else F(2x2, 3x3), partial sums
/// over ranges of tile rows that cross groups of images) and bias gradient, over planes that end mid-tile (odd sizes), one-pixel
/// and tiny planes, channel counts that leave partial register blocks, groups of images side by side with bands of
/// tile rows (one band per unit of work, or a whole group per unit), at every vector width. Batches too small to fill a
/// row of tiles go to the flat kernel.
/// </summary>
public class WinogradConvTests
{
    [Theory]
    [InlineData(3, 16, 16, 28, 28)]  // ResNet-20's first stage: three images fill a row of tiles; bands of tile rows
    [InlineData(8, 32, 64, 14, 14)]  // the cnn model's third layer: a group of six and a partial one
    [InlineData(25, 64, 64, 7, 7)]   // odd plane: the last tile row and column half outside
    [InlineData(8, 17, 19, 9, 11)]   // partial blocks of output channels, odd width and height
    [InlineData(24, 16, 24, 5, 3)]
    [InlineData(50, 16, 16, 1, 1)]   // one pixel: the tile is all padding but its centre
    [InlineData(24, 16, 16, 2, 2)]
    [InlineData(5, 24, 16, 3, 40)]   // a row of several vectors of tiles per image
    [InlineData(20, 16, 16, 14, 14)] // groups enough for the pool: a unit lays out a whole group's input and runs its bands
    [InlineData(40, 16, 20, 11, 9)]  // ... with a partial last group
    [InlineData(40, 17, 19, 13, 11)] // F(4x4, 3x3): odd planes (the last 6x6 tiles three rows and one column outside), partial blocks and group
    [InlineData(24, 16, 16, 10, 30)] // F(4x4, 3x3): the smallest side it takes, several vectors of a row per image
    [InlineData(70, 16, 16, 12, 12)] // F(4x4, 3x3): more than 64 images, a partial last group
    [InlineData(12, 16, 18, 21, 23)] // F(4x4, 3x3) weight gradient too: odd planes of 20+ pixels, a partial group
    public void MatchesTheIm2ColPathInFloat64(int batch, int inChannels, int outChannels, int height, int width)
    {
        var g = new ConvGeometry(batch, inChannels, height, width, outChannels, 3, 3, 1, 1, 1, 1, 1, 1, 1);
        if (SimdWidth.Hardware >= 128) Assert.True(WinogradConv.Applies<float>(g));
        KernelCases.AtEveryWidth(_ => FlatConvTests.Check(batch, inChannels, outChannels, 3, 3, 1, 1, height, width));
    }

    [Theory]
    [InlineData(40, 14)] // the weight gradient's four partial sums split groups of tile rows
    [InlineData(64, 28)] // 11 groups of six images (16 lanes): the forward pass splits each group's bands in two ranges on 2 and 3 threads
    public void GradientsAreTheSameWhateverTheThreadCount(int batch, int side)
    {
        string Step()
        {
            var gen = new Generator(5);
            var x = Tensor.Randn([batch, 16, side, side], gen).SetRequiresGrad();
            var w = Tensor.Randn([24, 16, 3, 3], gen).SetRequiresGrad();
            var y = Tensor.Conv2d(x, w, null, (1, 1), (1, 1));
            (y * Tensor.Randn(y.ShapeArray, gen)).Sum().Backward();
            return string.Join(",", y.ToArray<float>()) + ";" + string.Join(",", x.Grad!.ToArray<float>()) + ";" + string.Join(",", w.Grad!.ToArray<float>());
        }
        Assert.True(WinogradConv.Applies<float>(new ConvGeometry(batch, 16, side, side, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1)) || SimdWidth.Hardware < 128);
        int saved = WorkerPool.Threads;
        try
        {
            WorkerPool.Threads = 1;
            string reference = Step();
            foreach (int threads in new[] { 2, 3 })
            {
                WorkerPool.Threads = threads;
                Assert.Equal(reference, Step());
            }
        }
        finally
        {
            WorkerPool.Threads = saved;
        }
    }

    [Fact]
    public void FourByFourTakesTheBatchesThatFillItsWiderRows()
    {
        if (SimdWidth.Hardware < 512) return; // group sizes below are for 16 lanes
        var cnn = new ConvGeometry(64, 32, 14, 14, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1);
        Assert.True(Winograd4x4.Applies(cnn));               // 11 images of four tiles fill 48 tiles with 9 % to spare
        Assert.False(Winograd4x4.Applies(cnn with { Batch = 8 })); // 32 of 48: F(2x2, 3x3) (six images of eight tiles)
        Assert.True(WinogradConv.Applies<float>(cnn with { Batch = 8 }));
        Assert.False(Winograd4x4.Applies(cnn with { StrideH = 2 }));
        Assert.False(Winograd4x4.Applies(cnn with { InH = 8, InW = 8 })); // 8x8 and smaller images stay with F(2x2, 3x3)
        Assert.True(WinogradConv.Applies<float>(cnn with { InH = 8, InW = 8 }));
        Assert.False(Winograd4x4.AppliesToWeights(cnn));                         // 14x14: F(2x2, 3x3)'s weight gradient
        Assert.True(Winograd4x4.AppliesToWeights(cnn with { InH = 28, InW = 28 }));
    }

    [Fact]
    public void TakesOnlyThreeByThreeStrideOnePaddingOneWithSixteenChannelsEachWayAndBatchesThatFillRowsOfTiles()
    {
        var ok = new ConvGeometry(12, 16, 8, 8, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1);
        if (SimdWidth.Hardware < 128) return;
        Assert.True(WinogradConv.Applies<float>(ok));
        Assert.False(WinogradConv.Applies<double>(ok));
        Assert.False(WinogradConv.Applies<float>(ok with { InChannels = 15 }));
        Assert.False(WinogradConv.Applies<float>(ok with { OutChannels = 8 }));
        Assert.False(WinogradConv.Applies<float>(ok with { StrideH = 2 }));
        Assert.False(WinogradConv.Applies<float>(ok with { PadW = 0 }));
        Assert.False(WinogradConv.Applies<float>(ok with { KernelH = 5, KernelW = 5 }));
        Assert.False(WinogradConv.Applies<float>(ok with { Batch = 0 }));
        Assert.False(WinogradConv.Applies<float>(ok with { Batch = 1 })); // one 8x8 image fills a sixth of a row: the flat kernel is faster
    }
}
