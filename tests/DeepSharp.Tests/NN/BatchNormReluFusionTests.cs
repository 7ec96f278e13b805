using DeepSharp.Models;
using DeepSharp.NN;
using Xunit;

namespace DeepSharp.Tests.NN;

/// <summary>
/// Batch norm followed by ReLU in a Sequential (and in ResNet's BasicBlock) runs as one fused op. It must be the two
/// ops exactly: the same outputs, input, weight and bias gradients and running statistics, bit for bit, in training and
/// eval, for BatchNorm1d and BatchNorm2d, float32 and float64; and a hook on either module turns the fusion off so that
/// the hook sees the intermediate. The fused op's own gradients pass float64 GradCheck.
/// </summary>
public class BatchNormReluFusionTests
{
    public static TheoryData<bool, bool, DType> Cases() => new()
    {
        { true, true, DType.Float32 }, { false, true, DType.Float32 }, { true, false, DType.Float32 },
        { false, false, DType.Float32 }, { true, true, DType.Float64 }, { false, true, DType.Float64 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void FusedEqualsBatchNormThenRelu(bool training, bool twoD, DType dtype)
    {
        BatchNormBase Norm() => twoD ? new BatchNorm2d(5, dtype: dtype) : new BatchNorm1d(5, dtype: dtype);
        var fusedNorm = Norm();
        var plainNorm = Norm();
        var g = new Generator(3);
        foreach (var norm in new[] { fusedNorm, plainNorm })
        {
            // Non-trivial affine parameters and running statistics, the same in both.
            using (DeepSharp.Autograd.NoGrad())
            {
                norm.Weight!.CopyFrom(Tensor.Uniform([5], 0.5, 1.5, new Generator(1), dtype));
                norm.Bias!.CopyFrom(Tensor.Uniform([5], -0.5, 0.5, new Generator(2), dtype));
                norm.RunningMean!.CopyFrom(Tensor.Uniform([5], -0.2, 0.2, new Generator(4), dtype));
                norm.RunningVar!.CopyFrom(Tensor.Uniform([5], 0.5, 2.0, new Generator(5), dtype));
            }
        }
        var fused = new Sequential(fusedNorm, new Relu());
        fused.Train(training);
        plainNorm.Train(training);
        var relu = new Relu();
        int[] shape = twoD ? [4, 5, 6, 7] : [16, 5];
        var x1 = Tensor.Randn(shape, g, dtype, requiresGrad: true);
        var x2 = x1.Detach().Clone().SetRequiresGrad();
        var gy = Tensor.Randn(shape, new Generator(9), dtype);

        var y1 = fused.Call(x1);
        var y2 = relu.Call(plainNorm.Call(x2));
        Assert.Equal(y2.ToDoubleArray(), y1.ToDoubleArray());
        Assert.Contains(y1.ToDoubleArray(), v => v == 0); // the ReLU did clip
        y1.Backward(gy);
        y2.Backward(gy);
        Assert.Equal(x2.Grad!.ToDoubleArray(), x1.Grad!.ToDoubleArray());
        Assert.Equal(plainNorm.Weight!.Grad!.ToDoubleArray(), fusedNorm.Weight!.Grad!.ToDoubleArray());
        Assert.Equal(plainNorm.Bias!.Grad!.ToDoubleArray(), fusedNorm.Bias!.Grad!.ToDoubleArray());
        Assert.Equal(plainNorm.RunningMean!.ToDoubleArray(), fusedNorm.RunningMean!.ToDoubleArray());
        Assert.Equal(plainNorm.RunningVar!.ToDoubleArray(), fusedNorm.RunningVar!.ToDoubleArray());
    }

    [Fact]
    public void AHookOnTheReluSeesTheBatchNormOutput()
    {
        var norm = new BatchNorm2d(3);
        var relu = new Relu();
        var model = new Sequential(norm, relu);
        Tensor? seen = null;
        using var handle = relu.RegisterForwardHook((_, input, _) => seen = (Tensor)input!);
        var x = Tensor.Randn([2, 3, 4, 4], new Generator(1));
        var y = model.Call(x);
        Assert.NotNull(seen);
        Assert.Contains(seen!.ToDoubleArray(), v => v < 0); // the batch-norm output, before the ReLU
        Assert.Equal(seen.Relu().ToDoubleArray(), y.ToDoubleArray());
    }

    [Fact]
    public void FusedOpPassesGradCheck()
    {
        var g = new Generator(7);
        var x = Tensor.Randn([3, 4, 3, 3], g, DType.Float64, requiresGrad: true);
        var w = Tensor.Uniform([4], 0.5, 1.5, g, DType.Float64).SetRequiresGrad();
        var b = Tensor.Uniform([4], -0.5, 0.5, g, DType.Float64).SetRequiresGrad();
        Assert.True(DeepSharp.Autograd.GradCheck(
            t => Tensor.BatchNorm(t[0], null, null, t[1], t[2], training: true, momentum: 0.1, eps: 1e-5, relu: true), [x, w, b]));
    }

    [Fact]
    public void ResNetBlockMatchesItsUnfusedComposition()
    {
        var block = new BasicBlock(4, 4, generator: new Generator(2));
        var x = Tensor.Randn([2, 4, 5, 5], new Generator(3), requiresGrad: true);
        var y = block.Call(x);
        var x2 = x.Detach().Clone().SetRequiresGrad();
        var reference = block.Relu.Call(block.Bn2.Call(block.Conv2.Call(block.Relu.Call(block.Bn1.Call(block.Conv1.Call(x2))))) + x2);
        Assert.Equal(reference.ToDoubleArray(), y.ToDoubleArray());
    }
}
