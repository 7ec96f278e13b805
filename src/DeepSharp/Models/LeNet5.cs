using DeepSharp.NN;

namespace DeepSharp.Models;

/// <summary>
/// LeNet-5 (LeCun et al. 1998) as a Sequential with PyTorch's keys 0.weight .. 11.bias:
/// Conv2d(C, 6, 5, padding=2), ReLU, MaxPool2d(2), Conv2d(6, 16, 5), ReLU, MaxPool2d(2), Flatten,
/// Linear(16*5*5, 120), ReLU, Linear(120, 84), ReLU, Linear(84, classes) for 28x28 inputs (the flattened
/// size follows the image size: 16 * ((S/2 - 4)/2)^2). ReLU and max-pooling replace the original tanh and
/// subsampling, as in most modern renditions. PyTorch's default initialisation.
/// </summary>
public static class LeNet5
{
    /// <summary>Builds LeNet-5 for <paramref name="options"/> (input channels, image size, classes).</summary>
    /// <exception cref="ArgumentException">The options are invalid or the image is smaller than 12 pixels.</exception>
    public static Sequential Create(ModelOptions? options = null)
    {
        var o = options ?? new ModelOptions();
        ImageModels.Validate("lenet5", o, minImageSize: 12);
        int side = (o.ImageSize / 2 - 4) / 2;
        var (dt, g) = (o.DType, o.Generator);
        return new Sequential(
            new Conv2d(o.InputChannels, 6, 5, padding: 2, dtype: dt, generator: g),
            new Relu(),
            new MaxPool2d(2),
            new Conv2d(6, 16, 5, dtype: dt, generator: g),
            new Relu(),
            new MaxPool2d(2),
            new Flatten(),
            new Linear(16 * side * side, 120, dtype: dt, generator: g),
            new Relu(),
            new Linear(120, 84, dtype: dt, generator: g),
            new Relu(),
            new Linear(84, o.NumClasses, dtype: dt, generator: g));
    }
}
